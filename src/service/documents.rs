//! Identity documents of review cases (sensitive personal information,
//! PIPL Art. 28): checked, cleaned, and encrypted before they are stored.
//!
//! * **Checked**: the bytes must start with the JPEG signature and decode
//!   as a JPEG (a PNG renamed `.jpg` fails here); the declared size is read
//!   from the header and refused above the pixel limit *before* decoding,
//!   and the decoder runs with an allocation limit, so a small file that
//!   unpacks into gigabytes (a decompression bomb) costs nothing.
//! * **Cleaned**: turned upright by the EXIF orientation, then re-encoded
//!   as a new JPEG from the pixels alone: EXIF (camera, GPS, time) and any
//!   other metadata or trailing bytes are gone.
//! * **Encrypted**: AES-256-GCM with a fresh random key per document; that
//!   key is wrapped by the key-encryption key (`key_encryption_key`) whose
//!   id is stored beside it. Case, revision and slot are the associated data
//!   of both, so a blob copied to another case or slot does not decrypt.
//!   Keys listed in `review.previous_key_encryption_keys` still open what
//!   they wrapped (rotation without re-encrypting: documents live only until
//!   their purge).

use std::collections::HashMap;
use std::io::Cursor;
use std::sync::Arc;

use aws_lc_rs::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use image::codecs::jpeg::{JpegDecoder, JpegEncoder};
use image::{DynamicImage, ImageDecoder, Limits};
use uuid::Uuid;

use crate::config::Config;
use crate::crypto::kek::Kek;
use crate::crypto::random;

/// At most this many documents per case revision.
pub const MAX_DOCUMENTS: usize = 3;

/// Memory the decoder may allocate for one image (the pixel limit is the
/// first line; this one also covers what the decoder needs beside it).
const MAX_DECODE_ALLOC: u64 = 512 * 1024 * 1024;

/// Quality of the re-encoded JPEG (readable text on an ID card).
const JPEG_QUALITY: u8 = 88;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DocumentError {
    #[error("at least one document is required")]
    Missing,
    #[error("at most {MAX_DOCUMENTS} documents are accepted")]
    TooMany,
    #[error("document {slot}: the file is empty")]
    Empty { slot: usize },
    #[error("document {slot}: larger than {max} bytes")]
    TooLarge { slot: usize, max: usize },
    #[error("document {slot}: not a JPEG image")]
    NotJpeg { slot: usize },
    #[error("document {slot}: the image is too large ({width}×{height} pixels)")]
    TooManyPixels {
        slot: usize,
        width: u32,
        height: u32,
    },
    #[error("document {slot}: the JPEG image cannot be read")]
    Unreadable { slot: usize },
    /// The deployment has no `key_encryption_key`: documents cannot be
    /// stored encrypted, so they are not accepted at all.
    #[error("identity documents cannot be accepted: no key_encryption_key is configured")]
    NoKey,
    /// The key that wrapped a document is not configured any more, or the
    /// stored bytes do not decrypt (changed, or moved from another case).
    #[error("the document cannot be decrypted")]
    Decrypt,
    #[error("the document was purged")]
    Purged,
    #[error("encryption failed")]
    Encrypt,
}

/// What to tell the person about a refused or unavailable document, in
/// the page's language.
pub fn text(e: &DocumentError, t: &crate::i18n::Text) -> String {
    match e {
        DocumentError::Missing => t.review_doc_missing.into(),
        DocumentError::TooMany => t.review_doc_too_many.into(),
        DocumentError::Empty { slot } => (t.review_doc_empty)(*slot),
        DocumentError::TooLarge { slot, .. } => (t.review_doc_too_large)(*slot),
        DocumentError::NotJpeg { slot } => (t.review_doc_not_jpeg)(*slot),
        DocumentError::TooManyPixels { slot, .. } => (t.review_doc_too_many_pixels)(*slot),
        DocumentError::Unreadable { slot } => (t.review_doc_unreadable)(*slot),
        DocumentError::Purged => t.review_doc_purged.into(),
        DocumentError::NoKey | DocumentError::Decrypt | DocumentError::Encrypt => {
            t.review_doc_unavailable.into()
        }
    }
}

/// What the upload check allows.
#[derive(Debug, Clone, Copy)]
pub struct UploadLimits {
    pub max_bytes: usize,
    pub max_pixels: u64,
}

impl UploadLimits {
    pub fn from_config(config: &Config) -> Self {
        Self {
            max_bytes: config.review.max_document_bytes,
            max_pixels: config.review.max_document_pixels,
        }
    }
}

/// A document after the check: a fresh JPEG without metadata.
#[derive(Clone)]
pub struct CleanImage {
    pub jpeg: Vec<u8>,
    pub width: u32,
    pub height: u32,
}

impl std::fmt::Debug for CleanImage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CleanImage")
            .field("bytes", &self.jpeg.len())
            .field("width", &self.width)
            .field("height", &self.height)
            .finish()
    }
}

/// Checks and cleans the uploads of one case revision (1 to
/// [`MAX_DOCUMENTS`]). CPU-bound: call it on the blocking pool.
pub fn clean_all(
    files: &[Vec<u8>],
    limits: UploadLimits,
) -> Result<Vec<CleanImage>, DocumentError> {
    if files.is_empty() {
        return Err(DocumentError::Missing);
    }
    if files.len() > MAX_DOCUMENTS {
        return Err(DocumentError::TooMany);
    }
    files
        .iter()
        .enumerate()
        .map(|(i, f)| clean(f, i + 1, limits))
        .collect()
}

/// Checks one upload (`slot` counts from 1, for the message) and returns
/// it upright and re-encoded.
pub fn clean(bytes: &[u8], slot: usize, limits: UploadLimits) -> Result<CleanImage, DocumentError> {
    if bytes.is_empty() {
        return Err(DocumentError::Empty { slot });
    }
    if bytes.len() > limits.max_bytes {
        return Err(DocumentError::TooLarge {
            slot,
            max: limits.max_bytes,
        });
    }
    // SOI followed by the first marker: every JPEG starts FF D8 FF.
    if !bytes.starts_with(&[0xFF, 0xD8, 0xFF]) {
        return Err(DocumentError::NotJpeg { slot });
    }
    let mut decoder =
        JpegDecoder::new(Cursor::new(bytes)).map_err(|_| DocumentError::Unreadable { slot })?;
    let (width, height) = decoder.dimensions();
    if width == 0 || height == 0 || u64::from(width) * u64::from(height) > limits.max_pixels {
        return Err(DocumentError::TooManyPixels {
            slot,
            width,
            height,
        });
    }
    let mut decode_limits = Limits::default();
    decode_limits.max_alloc = Some(MAX_DECODE_ALLOC);
    decoder
        .set_limits(decode_limits)
        .map_err(|_| DocumentError::TooManyPixels {
            slot,
            width,
            height,
        })?;
    // The EXIF orientation (tag 0x0112); an unreadable EXIF block is
    // treated as "no rotation" rather than refusing the picture.
    let orientation = decoder
        .orientation()
        .unwrap_or(image::metadata::Orientation::NoTransforms);
    let mut picture =
        DynamicImage::from_decoder(decoder).map_err(|_| DocumentError::Unreadable { slot })?;
    picture.apply_orientation(orientation);
    let rgb = picture.into_rgb8();
    let (width, height) = rgb.dimensions();
    let mut jpeg = Vec::with_capacity(bytes.len());
    JpegEncoder::new_with_quality(&mut jpeg, JPEG_QUALITY)
        .encode_image(&rgb)
        .map_err(|_| DocumentError::Unreadable { slot })?;
    Ok(CleanImage {
        jpeg,
        width,
        height,
    })
}

/// The key-encryption keys documents are sealed with and opened by.
#[derive(Clone, Default)]
pub struct DocumentKeys {
    current: Option<Arc<Kek>>,
    by_id: HashMap<String, Arc<Kek>>,
}

impl DocumentKeys {
    /// From `key_encryption_key` (current) and
    /// `review.previous_key_encryption_keys` (open only). Config validation
    /// has checked them; a key that still does not parse is left out.
    pub fn from_config(config: &Config) -> Self {
        let mut keys = Self::default();
        if let Some(text) = &config.key_encryption_key
            && let Ok(k) = Kek::from_base64(text)
        {
            let k = Arc::new(k);
            keys.by_id.insert(k.id().to_string(), k.clone());
            keys.current = Some(k);
        }
        for text in &config.review.previous_key_encryption_keys {
            if let Ok(k) = Kek::from_base64(text) {
                keys.by_id.entry(k.id().to_string()).or_insert(Arc::new(k));
            }
        }
        keys
    }

    /// Whether documents can be accepted at all.
    pub fn can_seal(&self) -> bool {
        self.current.is_some()
    }
}

/// Where a document belongs: bound into its encryption so it cannot be
/// moved.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Place {
    pub case_id: Uuid,
    pub revision: i64,
    pub slot: i64,
}

impl Place {
    fn aad(&self) -> String {
        format!(
            "tongxing-document:v1:{}:{}:{}",
            self.case_id, self.revision, self.slot
        )
    }
}

/// An encrypted document: the key id, the wrapped per-document key and
/// nonce ‖ ciphertext ‖ tag.
#[derive(Clone)]
pub struct Sealed {
    pub kek_id: String,
    pub wrapped_key: Vec<u8>,
    pub ciphertext: Vec<u8>,
}

impl std::fmt::Debug for Sealed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sealed")
            .field("kek_id", &self.kek_id)
            .field("bytes", &self.ciphertext.len())
            .finish_non_exhaustive()
    }
}

/// Encrypts `plain` for `place` with a fresh key, wrapped by the current
/// key-encryption key.
pub fn seal(keys: &DocumentKeys, place: Place, plain: &[u8]) -> Result<Sealed, DocumentError> {
    let kek = keys.current.as_ref().ok_or(DocumentError::NoKey)?;
    let aad = place.aad();
    let data_key = random::bytes::<32>().map_err(|_| DocumentError::Encrypt)?;
    let key = UnboundKey::new(&AES_256_GCM, &data_key).map_err(|_| DocumentError::Encrypt)?;
    let key = LessSafeKey::new(key);
    let nonce = random::bytes::<NONCE_LEN>().map_err(|_| DocumentError::Encrypt)?;
    let mut body = plain.to_vec();
    key.seal_in_place_append_tag(
        Nonce::assume_unique_for_key(nonce),
        Aad::from(aad.as_bytes()),
        &mut body,
    )
    .map_err(|_| DocumentError::Encrypt)?;
    let mut ciphertext = nonce.to_vec();
    ciphertext.extend(body);
    let wrapped_key = kek
        .seal(&format!("{}|{aad}", kek.id()), &data_key)
        .map_err(|_| DocumentError::Encrypt)?;
    Ok(Sealed {
        kek_id: kek.id().to_string(),
        wrapped_key,
        ciphertext,
    })
}

/// Decrypts a document stored for `place`.
pub fn open(keys: &DocumentKeys, place: Place, sealed: &Sealed) -> Result<Vec<u8>, DocumentError> {
    let kek = keys
        .by_id
        .get(&sealed.kek_id)
        .ok_or(DocumentError::Decrypt)?;
    let aad = place.aad();
    let data_key = kek
        .open(&format!("{}|{aad}", kek.id()), &sealed.wrapped_key)
        .map_err(|_| DocumentError::Decrypt)?;
    let key = UnboundKey::new(&AES_256_GCM, &data_key).map_err(|_| DocumentError::Decrypt)?;
    let key = LessSafeKey::new(key);
    if sealed.ciphertext.len() < NONCE_LEN {
        return Err(DocumentError::Decrypt);
    }
    let (nonce, body) = sealed.ciphertext.split_at(NONCE_LEN);
    let nonce = Nonce::try_assume_unique_for_key(nonce).map_err(|_| DocumentError::Decrypt)?;
    let mut body = body.to_vec();
    let plain = key
        .open_in_place(nonce, Aad::from(aad.as_bytes()), &mut body)
        .map_err(|_| DocumentError::Decrypt)?;
    Ok(plain.to_vec())
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine;
    use base64::engine::general_purpose::STANDARD;
    use image::{ImageEncoder, Rgb, RgbImage};

    const LIMITS: UploadLimits = UploadLimits {
        max_bytes: 1024 * 1024,
        max_pixels: 40_000_000,
    };

    fn jpeg(w: u32, h: u32) -> Vec<u8> {
        let img = RgbImage::from_fn(w, h, |x, y| Rgb([(x * 7) as u8, (y * 5) as u8, 90]));
        let mut out = Vec::new();
        JpegEncoder::new_with_quality(&mut out, 90)
            .write_image(img.as_raw(), w, h, image::ExtendedColorType::Rgb8)
            .unwrap();
        out
    }

    fn png(w: u32, h: u32) -> Vec<u8> {
        let img = RgbImage::from_pixel(w, h, Rgb([1, 2, 3]));
        let mut out = Vec::new();
        image::codecs::png::PngEncoder::new(&mut out)
            .write_image(img.as_raw(), w, h, image::ExtendedColorType::Rgb8)
            .unwrap();
        out
    }

    /// `jpeg` with an APP1 EXIF segment right after SOI: orientation
    /// `orientation` and a GPS IFD pointer with a marker string.
    pub(crate) fn with_exif(jpeg: &[u8], orientation: u16) -> Vec<u8> {
        // TIFF header (big-endian), IFD0 with two entries: Orientation and
        // a Make string that stands for camera data that must vanish.
        let mut tiff = Vec::new();
        tiff.extend(b"MM\0\x2a\0\0\0\x08");
        tiff.extend(2u16.to_be_bytes());
        // Orientation: SHORT, count 1, value in the first two bytes.
        tiff.extend(0x0112u16.to_be_bytes());
        tiff.extend(3u16.to_be_bytes());
        tiff.extend(1u32.to_be_bytes());
        tiff.extend(orientation.to_be_bytes());
        tiff.extend([0, 0]);
        // Make: ASCII, count 16, at offset 8 + 2 + 2*12 + 4 = 38.
        let make = b"GPS-SECRET-CAM\0\0";
        tiff.extend(0x010Fu16.to_be_bytes());
        tiff.extend(2u16.to_be_bytes());
        tiff.extend((make.len() as u32).to_be_bytes());
        tiff.extend(38u32.to_be_bytes());
        tiff.extend(0u32.to_be_bytes());
        tiff.extend(make);
        let mut app1 = b"Exif\0\0".to_vec();
        app1.extend(tiff);
        let mut out = vec![0xFF, 0xD8, 0xFF, 0xE1];
        out.extend(((app1.len() + 2) as u16).to_be_bytes());
        out.extend(app1);
        out.extend(&jpeg[2..]);
        out
    }

    /// A JPEG whose frame header declares `w`×`h` (the body stays small).
    pub(crate) fn declaring(jpeg: &[u8], w: u16, h: u16) -> Vec<u8> {
        let mut out = jpeg.to_vec();
        let sof = out
            .windows(2)
            .position(|p| p[0] == 0xFF && (p[1] == 0xC0 || p[1] == 0xC2))
            .unwrap();
        // FF C0, length (2), precision (1), height (2), width (2).
        out[sof + 5..sof + 7].copy_from_slice(&h.to_be_bytes());
        out[sof + 7..sof + 9].copy_from_slice(&w.to_be_bytes());
        out
    }

    #[test]
    fn a_jpeg_is_accepted_and_re_encoded() {
        let original = jpeg(40, 30);
        let clean = clean(&original, 1, LIMITS).unwrap();
        assert_eq!((clean.width, clean.height), (40, 30));
        assert!(clean.jpeg.starts_with(&[0xFF, 0xD8, 0xFF]));
        assert_ne!(clean.jpeg, original, "re-encoded, not passed through");
    }

    #[test]
    fn a_png_renamed_to_jpg_is_refused() {
        assert_eq!(
            clean(&png(10, 10), 2, LIMITS).unwrap_err(),
            DocumentError::NotJpeg { slot: 2 }
        );
        assert!(clean(&jpeg(10, 10), 2, LIMITS).is_ok());
    }

    #[test]
    fn text_and_truncated_files_are_refused() {
        assert_eq!(
            clean(b"hello", 1, LIMITS).unwrap_err(),
            DocumentError::NotJpeg { slot: 1 }
        );
        assert_eq!(
            clean(&[], 1, LIMITS).unwrap_err(),
            DocumentError::Empty { slot: 1 }
        );
        // Cut inside the headers: no frame to decode. (A JPEG cut inside
        // its scan data decodes with the rest grey, like most viewers show it.)
        let good = jpeg(64, 64);
        let cut = &good[..20];
        assert!(matches!(
            clean(cut, 1, LIMITS).unwrap_err(),
            DocumentError::Unreadable { slot: 1 }
        ));
    }

    #[test]
    fn over_the_size_cap_is_refused() {
        let small = jpeg(20, 20);
        let limits = UploadLimits {
            max_bytes: small.len(),
            ..LIMITS
        };
        assert!(clean(&small, 1, limits).is_ok());
        let mut big = small.clone();
        big.push(0);
        assert_eq!(
            clean(&big, 1, limits).unwrap_err(),
            DocumentError::TooLarge {
                slot: 1,
                max: small.len()
            }
        );
    }

    #[test]
    fn a_decompression_bomb_is_refused_before_decoding() {
        let small = jpeg(16, 16);
        let bomb = declaring(&small, 60000, 60000);
        assert!(bomb.len() < 4096, "a small file");
        assert_eq!(
            clean(&bomb, 1, LIMITS).unwrap_err(),
            DocumentError::TooManyPixels {
                slot: 1,
                width: 60000,
                height: 60000
            }
        );
        // The patch itself is sound: declaring the true size is accepted.
        assert!(clean(&declaring(&small, 16, 16), 1, LIMITS).is_ok());
    }

    #[test]
    fn exif_is_gone_and_the_image_is_turned_upright() {
        let original = jpeg(40, 20);
        let tagged = with_exif(&original, 6); // rotate 90° clockwise
        assert!(tagged.windows(14).any(|w| w == b"GPS-SECRET-CAM"));
        let clean = clean(&tagged, 1, LIMITS).unwrap();
        assert_eq!((clean.width, clean.height), (20, 40), "turned upright");
        assert!(!clean.jpeg.windows(14).any(|w| w == b"GPS-SECRET-CAM"));
        assert!(!clean.jpeg.windows(4).any(|w| w == b"Exif"));
        // Control: orientation 1 keeps the shape.
        let upright = super::clean(&with_exif(&original, 1), 1, LIMITS).unwrap();
        assert_eq!((upright.width, upright.height), (40, 20));
    }

    #[test]
    fn refusals_are_worded_in_both_languages() {
        let e = DocumentError::NotJpeg { slot: 2 };
        assert!(text(&e, crate::i18n::Lang::ZhCn.text()).contains("第 2 个文件"));
        assert!(text(&e, crate::i18n::Lang::En.text()).contains("File 2"));
    }

    #[test]
    fn one_to_three_documents() {
        let one = jpeg(8, 8);
        assert_eq!(clean_all(&[], LIMITS).unwrap_err(), DocumentError::Missing);
        assert_eq!(clean_all(&vec![one.clone(); 3], LIMITS).unwrap().len(), 3);
        assert_eq!(
            clean_all(&vec![one; 4], LIMITS).unwrap_err(),
            DocumentError::TooMany
        );
    }

    fn keys(bytes: u8, previous: &[u8]) -> DocumentKeys {
        let c = Config {
            key_encryption_key: Some(STANDARD.encode([bytes; 32])),
            review: crate::config::ReviewConfig {
                previous_key_encryption_keys: previous
                    .iter()
                    .map(|b| STANDARD.encode([*b; 32]))
                    .collect(),
                ..Default::default()
            },
            ..Config::default()
        };
        DocumentKeys::from_config(&c)
    }

    #[test]
    fn sealing_binds_the_place_and_the_key() {
        let k = keys(1, &[]);
        let place = Place {
            case_id: Uuid::now_v7(),
            revision: 1,
            slot: 1,
        };
        let plain = jpeg(8, 8);
        let sealed = seal(&k, place, &plain).unwrap();
        assert!(
            !sealed
                .ciphertext
                .windows(plain.len().min(64))
                .any(|w| w == &plain[..plain.len().min(64)])
        );
        assert_eq!(open(&k, place, &sealed).unwrap(), plain);
        for moved in [
            Place { slot: 2, ..place },
            Place {
                revision: 2,
                ..place
            },
            Place {
                case_id: Uuid::now_v7(),
                ..place
            },
        ] {
            assert_eq!(
                open(&k, moved, &sealed).unwrap_err(),
                DocumentError::Decrypt
            );
        }
        assert_eq!(
            open(&keys(2, &[]), place, &sealed).unwrap_err(),
            DocumentError::Decrypt,
            "another key-encryption key"
        );
        // Rotation: the new current key with the old one kept as previous.
        let rotated = keys(2, &[1]);
        assert_eq!(open(&rotated, place, &sealed).unwrap(), plain);
        let resealed = seal(&rotated, place, &plain).unwrap();
        assert_ne!(resealed.kek_id, sealed.kek_id);
        assert!(!DocumentKeys::default().can_seal());
        assert_eq!(
            seal(&DocumentKeys::default(), place, &plain).unwrap_err(),
            DocumentError::NoKey
        );
    }
}
