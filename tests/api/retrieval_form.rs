//! The retrieval form's PDF read back by the real tools an office has:
//! `pdftotext` finds the Chinese text, and `zbarimg` decodes both barcodes
//! of a page rendered by `pdftoppm` to the case number. Needs Debian's
//! poppler-utils, zbar-tools and a CJK font (fonts-wqy-microhei or
//! fonts-noto-cjk), which `.ci/run` installs; without them the test says it
//! skipped.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;

use tongxing::domain::CaseNumber;
use tongxing::service::retrieval_form::{FormFonts, RetrievalSheet, render};

use crate::helpers::TestApp;

/// Says on the terminal (not into captured output) that a test skipped;
/// where the tools are promised (`TONGXING_TEST_TOOLS=1`, as `.ci/run`
/// sets), a missing one fails the test instead.
pub fn skipped(why: &str) {
    assert!(
        std::env::var("TONGXING_TEST_TOOLS").as_deref() != Ok("1"),
        "TONGXING_TEST_TOOLS=1 but {why}"
    );
    let _ = writeln!(std::io::stderr(), "skipped: {why}");
}

fn tool(name: &str) -> bool {
    Command::new(name).arg("-v").output().is_ok()
}

/// The font the server would choose with nothing configured.
fn fonts() -> FormFonts {
    FormFonts::check(None).expect("nothing configured, nothing to refuse")
}

fn sheet(case: CaseNumber) -> RetrievalSheet {
    RetrievalSheet {
        title: "中国科技云通行证 密码查询信息表".into(),
        case_number: case,
        case_label: "案件编号".into(),
        rows: vec![
            ("单位".into(), "中国科学院计算机网络信息中心".into()),
            ("申请人姓名".into(), "张三".into()),
            ("证件号码".into(), "110***********002X".into()),
            (
                "申请原因".into(),
                "其他：原手机号停用多年，邮箱也已注销，无法通过短信或邮件找回密码，需由单位核实身份后重新设置。"
                    .repeat(2),
            ),
        ],
        signature_label: "申请人签字".into(),
        date_label: "日期".into(),
        seal_label: "单位盖章".into(),
        filled_on: "填表日期：2026年12月1日".into(),
        instructions: vec!["打印本表，签字并加盖单位公章后扫描上传。".into()],
    }
}

fn run(cmd: &mut Command) -> String {
    let out = cmd.output().expect("tool runs");
    assert!(
        out.status.success(),
        "{cmd:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn the_pdf_reads_back_as_text_and_both_barcodes_decode() {
    let fonts = fonts();
    let Some(font_path) = fonts.path().map(Path::to_path_buf) else {
        return skipped("retrieval form: no CJK font (apt-get install fonts-wqy-microhei)");
    };
    if !tool("pdftotext") || !tool("zbarimg") {
        return skipped("retrieval form: needs poppler-utils and zbar-tools");
    }
    let font = fonts.get().expect("font loads");
    let case = CaseNumber::from_random(0x5eed_1234_abcd);
    let pdf = render(&sheet(case), font).expect("renders");
    // Subset: the font files are megabytes, the form tens of kilobytes.
    assert!(pdf.len() < 120_000, "{} bytes", pdf.len());
    let font_size = std::fs::metadata(&font_path).unwrap().len();
    assert!((pdf.len() as u64) * 20 < font_size, "the font is subset");

    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("form.pdf");
    std::fs::write(&file, &pdf).unwrap();
    let text = run(Command::new("pdftotext")
        .args(["-layout"])
        .arg(&file)
        .arg("-"));
    for expected in [
        "密码查询信息表",
        "中国科学院计算机网络信息中心",
        "张三",
        "110***********002X",
        "单位盖章",
        &case.grouped(),
    ] {
        assert!(text.contains(expected), "{expected:?} not in:\n{text}");
    }
    let pages = run(Command::new("pdfinfo").arg(&file));
    assert!(pages.contains("Pages:           1"), "{pages}");
    assert!(pages.contains("595.28 x 841.89"), "A4: {pages}");

    let png = dir.path().join("page");
    run(Command::new("pdftoppm")
        .args(["-r", "200", "-png", "-singlefile"])
        .arg(&file)
        .arg(&png));
    let decoded = run(Command::new("zbarimg")
        .args(["--quiet", "--raw"])
        .arg(png_path(&png)));
    let found: Vec<&str> = decoded.lines().collect();
    assert_eq!(
        found,
        [case.digits().as_str(), case.digits().as_str()],
        "QR and Code 128: {decoded}"
    );
    // To look at the page: TONGXING_TEST_FORM_OUT=/some/dir keeps both files.
    if let Ok(out) = std::env::var("TONGXING_TEST_FORM_OUT") {
        let out = PathBuf::from(out);
        std::fs::copy(&file, out.join("form.pdf")).unwrap();
        std::fs::copy(png_path(&png), out.join("form.png")).unwrap();
    }
    let kinds = run(Command::new("zbarimg").arg("--quiet").arg(png_path(&png)));
    assert!(
        kinds.contains("QR-Code:") && kinds.contains("CODE-128:"),
        "{kinds}"
    );
}

fn png_path(stem: &Path) -> PathBuf {
    stem.with_extension("png")
}

/// `retrieval.form_font` is checked when the server (or any command)
/// starts: a missing file stops configuration loading (exit 6), a file that
/// is not a usable font stops the start naming it, and a real CJK font is
/// accepted (the positive control).
#[tokio::test]
async fn the_configured_font_is_checked_at_start() {
    let app = TestApp::spawn().await;
    let missing = app
        .cli_env(
            &["migrate"],
            None,
            &[("TONGXING_RETRIEVAL__FORM_FONT", "/nonexistent/font.ttc")],
        )
        .await;
    assert_eq!(missing.code, 6, "{missing:?}");
    assert!(
        missing.stderr.contains("retrieval.form_font")
            && missing.stderr.contains("/nonexistent/font.ttc"),
        "{}",
        missing.stderr
    );

    let dir = tempfile::tempdir().unwrap();
    let fake = dir.path().join("fake.ttc");
    std::fs::write(&fake, b"not a font at all").unwrap();
    let fake_text = fake.display().to_string();
    let refused = app
        .cli_env(
            &["migrate"],
            None,
            &[("TONGXING_RETRIEVAL__FORM_FONT", fake_text.as_str())],
        )
        .await;
    assert_ne!(refused.code, 0, "{refused:?}");
    assert!(
        refused.stderr.contains("form_font") && refused.stderr.contains(&fake_text),
        "{}",
        refused.stderr
    );

    let Some(real) = fonts().path().map(|p| p.display().to_string()) else {
        return skipped("retrieval form: no CJK font (apt-get install fonts-wqy-microhei)");
    };
    let accepted = app
        .cli_env(
            &["migrate"],
            None,
            &[("TONGXING_RETRIEVAL__FORM_FONT", real.as_str())],
        )
        .await;
    assert_eq!(accepted.code, 0, "{accepted:?}");
}
