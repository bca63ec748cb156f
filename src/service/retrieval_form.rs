//! The retrieval form (密码查询信息表): one A4 page, made on request from a
//! retrieval case and never stored. The person prints it, signs it, has
//! their organization stamp it and uploads a scan; the reviewer finds the
//! case again from the number printed as digits, as a Code 128 barcode (for
//! an office scanner) and as a QR code (for a phone).
//!
//! ```text
//!  ┌──────────────────────────────────────────────┐
//!  │            title                   ┌──────┐  │
//!  │  ||||||||||||||||||||              │  QR  │  │
//!  │  case number 1234 5678 9012 3456   └──────┘  │
//!  │ ┌───────────┬──────────────────────────────┐ │
//!  │ │ label     │ value (wrapped)              │ │
//!  │ │ …         │ …                            │ │
//!  │ └───────────┴──────────────────────────────┘ │
//!  │  applicant's signature ______  date ______   │
//!  │  organization's seal   ┌──────────────┐      │
//!  │                        └──────────────┘      │
//!  │  what to do next                             │
//!  └──────────────────────────────────────────────┘
//! ```
//!
//! Chinese text needs a CJK font: `retrieval.form_font`, or else the first
//! of Debian's recommended fonts found ([`DEBIAN_FONTS`]). It is checked at
//! start ([`FormFonts::check`]), read and parsed once on the first form
//! ([`FormFonts::get`]) and krilla embeds only the glyphs a page uses, so a form stays a few tens of kilobytes whatever the font's
//! size. Barcodes are drawn as filled rectangles, one per run of dark
//! modules, so they stay sharp at any printer resolution.

use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use krilla::Document;
use krilla::geom::{PathBuilder, Point, Rect};
use krilla::page::PageSettings;
use krilla::paint::{Fill, Stroke};
use krilla::surface::Surface;
use krilla::text::{Font, TextDirection};
use skrifa::MetadataProvider;
use skrifa::instance::{LocationRef, Size};
use skrifa::raw::FileRef;
use skrifa::string::StringId;

use crate::domain::CaseNumber;

/// A4 in PostScript points.
const PAGE_W: f32 = 595.28;
const PAGE_H: f32 = 841.89;
const MARGIN: f32 = 56.0;
/// The characters a face must have to print a Chinese form.
const PROBE: &str = "密码查询信息表申请人单位盖章";

/// Why the form's font cannot be used; said at start, naming the path.
#[derive(Debug, thiserror::Error)]
pub enum FontError {
    #[error("cannot read the form font {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("the form font {path} is not a font file krilla can read")]
    NotAFont { path: String },
    #[error(
        "the form font {path} has no Chinese glyphs (install fonts-noto-cjk or fonts-wqy-microhei and name its file)"
    )]
    NoChinese { path: String },
}

/// The CJK fonts tried when `retrieval.form_font` is not set, in order:
/// Debian's `fonts-noto-cjk` (recommended), then the small
/// `fonts-wqy-microhei` and `fonts-wqy-zenhei`.
pub const DEBIAN_FONTS: [&str; 3] = [
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",
    "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc",
];

/// The form's font as the server holds it: which file, checked at start,
/// and parsed on first use (a CJK font is megabytes; a server that never
/// prints a form never keeps one in memory).
#[derive(Debug, Default)]
pub struct FormFonts {
    path: Option<PathBuf>,
    loaded: OnceLock<Result<FormFont, String>>,
}

impl FormFonts {
    /// Chooses the font: the configured file, which must be a readable font
    /// with Chinese glyphs (else the error, naming the path, stops the
    /// start), or the first of [`DEBIAN_FONTS`] that exists (none: forms
    /// cannot be made until one is installed, which [`FormFonts::get`]
    /// says). Blocking: reads the configured file once.
    pub fn check(configured: Option<&Path>) -> Result<FormFonts, FontError> {
        let path = match configured {
            Some(path) => {
                FormFont::load(path)?;
                Some(path.to_path_buf())
            }
            None => DEBIAN_FONTS.iter().map(PathBuf::from).find(|p| p.is_file()),
        };
        Ok(FormFonts {
            path,
            loaded: OnceLock::new(),
        })
    }

    /// The chosen font file, if any.
    pub fn path(&self) -> Option<&Path> {
        self.path.as_deref()
    }

    /// The parsed font, read on the first call. Blocking: call it off the
    /// async threads. The error says what to install or configure.
    pub fn get(&self) -> Result<&FormFont, String> {
        self.loaded
            .get_or_init(|| match &self.path {
                Some(path) => FormFont::load(path).map_err(|e| e.to_string()),
                None => Err(
                    "no CJK font for the retrieval form: install fonts-noto-cjk or fonts-wqy-microhei, or set retrieval.form_font"
                        .to_string(),
                ),
            })
            .as_ref()
            .map_err(Clone::clone)
    }
}

/// Why a form could not be made (not expected with a loaded font; the
/// page answers with an error page rather than a broken file).
#[derive(Debug, thiserror::Error)]
pub enum FormError {
    #[error("barcode: {0}")]
    Barcode(String),
    #[error("pdf: {0}")]
    Pdf(String),
}

/// The CJK font, parsed once and shared: krilla's handle for drawing, the
/// bytes and face index for measuring text widths.
#[derive(Clone)]
pub struct FormFont {
    font: Font,
    bytes: Arc<Vec<u8>>,
    index: u32,
}

impl std::fmt::Debug for FormFont {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FormFont")
            .field("index", &self.index)
            .finish()
    }
}

impl FormFont {
    /// Reads the font file. In a collection (`.ttc`, as Debian ships both
    /// recommended fonts) the face for Simplified Chinese is taken — its
    /// family name ends in "SC" — else the first face that has the
    /// characters of the form.
    pub fn load(path: &Path) -> Result<FormFont, FontError> {
        let shown = path.display().to_string();
        let bytes = std::fs::read(path).map_err(|source| FontError::Read {
            path: shown.clone(),
            source,
        })?;
        FormFont::from_bytes(bytes).map_err(|e| match e {
            FontError::NotAFont { .. } => FontError::NotAFont { path: shown },
            _ => FontError::NoChinese { path: shown },
        })
    }

    fn from_bytes(bytes: Vec<u8>) -> Result<FormFont, FontError> {
        let not_a_font = || FontError::NotAFont {
            path: String::new(),
        };
        let faces = match FileRef::new(&bytes).map_err(|_| not_a_font())? {
            FileRef::Font(_) => 1,
            FileRef::Collection(c) => c.len(),
        };
        let covers = |i: u32| {
            skrifa::FontRef::from_index(&bytes, i)
                .is_ok_and(|f| PROBE.chars().all(|c| f.charmap().map(c).is_some()))
        };
        let family = |i: u32| {
            skrifa::FontRef::from_index(&bytes, i)
                .ok()
                .and_then(|f| {
                    f.localized_strings(StringId::FAMILY_NAME)
                        .english_or_first()
                        .map(|s| s.chars().collect::<String>())
                })
                .unwrap_or_default()
        };
        let index = (0..faces)
            .find(|i| family(*i).trim_end().ends_with("SC") && covers(*i))
            .or_else(|| (0..faces).find(|i| covers(*i)))
            .ok_or(FontError::NoChinese {
                path: String::new(),
            })?;
        let bytes = Arc::new(bytes);
        let font = Font::new(krilla::Data::from(bytes.clone()), index).ok_or_else(not_a_font)?;
        Ok(FormFont { font, bytes, index })
    }

    /// The width of `text` at `size` points (characters the font lacks
    /// count as one em, as their fallback box is drawn).
    fn width(&self, text: &str, size: f32) -> f32 {
        let Ok(face) = skrifa::FontRef::from_index(&self.bytes, self.index) else {
            return size * text.chars().count() as f32;
        };
        let charmap = face.charmap();
        let metrics = face.glyph_metrics(Size::new(size), LocationRef::default());
        text.chars()
            .map(|c| {
                charmap
                    .map(c)
                    .and_then(|g| metrics.advance_width(g))
                    .unwrap_or(size)
            })
            .sum()
    }

    /// `text` broken into lines no wider than `max` (at any character:
    /// Chinese has no spaces; the line breaks at a space when one is near).
    fn wrap(&self, text: &str, size: f32, max: f32) -> Vec<String> {
        let mut lines = Vec::new();
        for paragraph in text.split('\n') {
            let mut line = String::new();
            for c in paragraph.chars() {
                let mut next = line.clone();
                next.push(c);
                if self.width(&next, size) > max && !line.is_empty() {
                    match line.rfind(' ').filter(|at| *at > line.len() / 2) {
                        Some(at) => {
                            let rest = line.split_off(at + 1);
                            lines.push(line.trim_end().to_string());
                            line = rest;
                            line.push(c);
                        }
                        None => {
                            lines.push(std::mem::take(&mut line));
                            line.push(c);
                        }
                    }
                } else {
                    line = next;
                }
            }
            lines.push(line);
        }
        lines
    }
}

/// What the form shows, already in the case's language: the caller fills
/// the labels from the texts and masks the identity number.
#[derive(Debug, Clone)]
pub struct RetrievalSheet {
    /// "中国科技云通行证 密码查询信息表".
    pub title: String,
    pub case_number: CaseNumber,
    /// "案件编号".
    pub case_label: String,
    /// Label and value of each field, in order (organization first).
    pub rows: Vec<(String, String)>,
    /// "申请人签字".
    pub signature_label: String,
    /// "日期".
    pub date_label: String,
    /// "单位盖章".
    pub seal_label: String,
    /// "填表日期：2026年12月1日".
    pub filled_on: String,
    /// What to do with the page, one paragraph per entry.
    pub instructions: Vec<String>,
}

/// Makes the PDF.
pub fn render(sheet: &RetrievalSheet, font: &FormFont) -> Result<Vec<u8>, FormError> {
    let mut document = Document::new();
    document.set_metadata(krilla::metadata::Metadata::new().title(sheet.title.clone()));
    let settings =
        PageSettings::from_wh(PAGE_W, PAGE_H).ok_or(FormError::Pdf("page size".into()))?;
    let mut page = document.start_page_with(settings);
    let mut surface = page.surface();
    let mut pen = Pen {
        surface: &mut surface,
        font,
    };

    // Title, centred above everything.
    let title_size = 18.0;
    let title_w = font.width(&sheet.title, title_size);
    pen.text(
        (PAGE_W - title_w) / 2.0,
        MARGIN + title_size,
        title_size,
        &sheet.title,
    );

    // The QR code at the right, the Code 128 and the digits at the left.
    let top = MARGIN + 40.0;
    let digits = sheet.case_number.digits();
    let qr = qr_modules(&digits)?;
    let qr_module = 3.0;
    let qr_side = qr.len() as f32 * qr_module;
    pen.modules(PAGE_W - MARGIN - qr_side, top, qr_module, qr_module, &qr);
    let bars = code128_modules(&digits)?;
    let bar_h = 44.0;
    pen.modules(MARGIN, top, 1.4, bar_h, &[bars]);
    let label = format!("{}  {}", sheet.case_label, sheet.case_number.grouped());
    pen.text(MARGIN, top + bar_h + 16.0, 12.0, &label);

    // The fields, as a two-column table with its grid.
    let table_top = top + qr_side.max(bar_h + 24.0) + 18.0;
    let label_w = 140.0;
    let value_w = PAGE_W - 2.0 * MARGIN - label_w;
    let size = 11.0;
    let leading = 16.0;
    let mut y = table_top;
    let mut grid = PathBuilder::new();
    grid.move_to(MARGIN, y);
    grid.line_to(PAGE_W - MARGIN, y);
    for (label, value) in &sheet.rows {
        let label_lines = font.wrap(label, size, label_w - 12.0);
        let value_lines = font.wrap(value, size, value_w - 12.0);
        let n = label_lines.len().max(value_lines.len()).max(1);
        let h = n as f32 * leading + 10.0;
        for (i, l) in label_lines.iter().enumerate() {
            pen.text(
                MARGIN + 6.0,
                y + 5.0 + (i as f32 + 1.0) * leading - 4.0,
                size,
                l,
            );
        }
        for (i, l) in value_lines.iter().enumerate() {
            let x = MARGIN + label_w + 6.0;
            pen.text(x, y + 5.0 + (i as f32 + 1.0) * leading - 4.0, size, l);
        }
        y += h;
        grid.move_to(MARGIN, y);
        grid.line_to(PAGE_W - MARGIN, y);
    }
    for x in [MARGIN, MARGIN + label_w, PAGE_W - MARGIN] {
        grid.move_to(x, table_top);
        grid.line_to(x, y);
    }
    pen.stroke(grid, 0.8);

    // Date, signature line and the box for the seal.
    y += 26.0;
    pen.text(MARGIN, y, size, &sheet.filled_on);
    y += 34.0;
    let sig = format!("{}：", sheet.signature_label);
    pen.text(MARGIN, y, 12.0, &sig);
    let sig_end = MARGIN + font.width(&sig, 12.0);
    let date = format!("{}：", sheet.date_label);
    let date_x = PAGE_W / 2.0 + 40.0;
    pen.text(date_x, y, 12.0, &date);
    let mut lines = PathBuilder::new();
    lines.move_to(sig_end + 4.0, y + 3.0);
    lines.line_to(date_x - 20.0, y + 3.0);
    let date_end = date_x + font.width(&date, 12.0);
    lines.move_to(date_end + 4.0, y + 3.0);
    lines.line_to(PAGE_W - MARGIN, y + 3.0);
    pen.stroke(lines, 0.8);
    y += 34.0;
    let seal = format!("{}：", sheet.seal_label);
    pen.text(MARGIN, y, 12.0, &seal);
    let seal_x = MARGIN + font.width(&seal, 12.0) + 8.0;
    let mut seal_box = PathBuilder::new();
    if let Some(r) = Rect::from_xywh(seal_x, y - 12.0, 150.0, 150.0) {
        seal_box.push_rect(r);
    }
    pen.stroke(seal_box, 0.6);
    y += 160.0;

    // What to do next.
    for paragraph in &sheet.instructions {
        for line in font.wrap(paragraph, 10.0, PAGE_W - 2.0 * MARGIN) {
            if y > PAGE_H - MARGIN / 2.0 {
                break;
            }
            pen.text(MARGIN, y, 10.0, &line);
            y += 14.0;
        }
        y += 4.0;
    }

    surface.finish();
    page.finish();
    document
        .finish()
        .map_err(|e| FormError::Pdf(format!("{e:?}")))
}

/// Draws on the page with the form's font.
struct Pen<'s, 'p> {
    surface: &'s mut Surface<'p>,
    font: &'s FormFont,
}

impl Pen<'_, '_> {
    /// Text whose baseline starts at (`x`, `y`).
    fn text(&mut self, x: f32, y: f32, size: f32, text: &str) {
        self.surface.set_fill(Some(Fill::default()));
        self.surface.set_stroke(None);
        self.surface.draw_text(
            Point::from_xy(x, y),
            self.font.font.clone(),
            size,
            text,
            false,
            TextDirection::Auto,
        );
    }

    fn stroke(&mut self, path: PathBuilder, width: f32) {
        let Some(path) = path.finish() else { return };
        self.surface.set_fill(None);
        self.surface.set_stroke(Some(Stroke {
            width,
            ..Stroke::default()
        }));
        self.surface.draw_path(&path);
        self.surface.set_stroke(None);
    }

    /// Rows of dark (`true`) and light modules, top-left at (`x`, `y`),
    /// each module `w` wide and `h` high; one rectangle per dark run.
    fn modules(&mut self, x: f32, y: f32, w: f32, h: f32, rows: &[Vec<bool>]) {
        let mut path = PathBuilder::new();
        for (r, row) in rows.iter().enumerate() {
            let mut c = 0;
            while c < row.len() {
                if !row[c] {
                    c += 1;
                    continue;
                }
                let start = c;
                while c < row.len() && row[c] {
                    c += 1;
                }
                let left = x + start as f32 * w;
                let top = y + r as f32 * h;
                if let Some(rect) = Rect::from_xywh(left, top, (c - start) as f32 * w, h) {
                    path.push_rect(rect);
                }
            }
        }
        if let Some(path) = path.finish() {
            self.surface.set_stroke(None);
            self.surface.set_fill(Some(Fill::default()));
            self.surface.draw_path(&path);
        }
    }
}

/// The QR code of `text` (error correction M) with its 4-module quiet zone.
fn qr_modules(text: &str) -> Result<Vec<Vec<bool>>, FormError> {
    let code = qrcode::QrCode::with_error_correction_level(text, qrcode::EcLevel::M)
        .map_err(|e| FormError::Barcode(e.to_string()))?;
    let w = code.width();
    let colors = code.to_colors();
    let quiet = 4;
    let side = w + 2 * quiet;
    let mut rows = vec![vec![false; side]; side];
    for (i, color) in colors.iter().enumerate() {
        rows[quiet + i / w][quiet + i % w] = *color == qrcode::Color::Dark;
    }
    Ok(rows)
}

/// The Code 128 modules of a string of digits (character set C, two digits
/// per symbol), with a 10-module quiet zone each side.
fn code128_modules(digits: &str) -> Result<Vec<bool>, FormError> {
    let code = barcoders::sym::code128::Code128::new(format!("\u{0106}{digits}"))
        .map_err(|e| FormError::Barcode(e.to_string()))?;
    let quiet = std::iter::repeat_n(false, 10);
    Ok(quiet
        .clone()
        .chain(code.encode().into_iter().map(|m| m == 1))
        .chain(quiet)
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn code128_of_sixteen_digits_is_compact() {
        let m = code128_modules("1234567890123456").unwrap();
        // Quiet zones, start C, 8 symbols, check, stop (13 modules).
        assert_eq!(m.len(), 10 + 11 + 8 * 11 + 11 + 13 + 10);
        assert!(!m[9] && m[10], "bars start after the quiet zone");
    }

    #[test]
    fn qr_has_its_quiet_zone() {
        let rows = qr_modules("1234567890123456").unwrap();
        assert_eq!(rows.len(), 21 + 8, "version 1 for 16 digits");
        assert!(rows[0].iter().all(|d| !d));
        assert!(rows[4][4], "finder pattern corner");
    }

    #[test]
    fn a_file_that_is_not_a_font_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("font.ttc");
        std::fs::write(&path, b"not a font").unwrap();
        let e = FormFont::load(&path).unwrap_err().to_string();
        assert!(
            e.contains("font.ttc") && e.contains("not a font file"),
            "{e}"
        );
        let e = FormFont::load(&dir.path().join("missing.ttc"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("missing.ttc"), "{e}");
    }
}
