//! docs/sandbox.md's address plan is generated from `fw_testkit::plan`: this test fails when the
//! page is stale, and `FW_WRITE_SANDBOX_DOC=1` rewrites the generated section in place.

use std::path::PathBuf;

const BEGIN: &str = "<!-- plan:begin -->\n";
const END: &str = "<!-- plan:end -->";

#[test]
fn sandbox_doc() {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../docs/sandbox.md");
    let page = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    let (Some(b), Some(e)) = (page.find(BEGIN), page.find(END)) else {
        panic!(
            "{}: the markers {BEGIN:?} and {END:?} are missing",
            path.display()
        );
    };
    assert!(b < e, "{}: {END:?} comes before {BEGIN:?}", path.display());
    let want = format!(
        "{}{BEGIN}{}{}",
        &page[..b],
        fw_testkit::plan::markdown(),
        &page[e..]
    );
    if std::env::var("FW_WRITE_SANDBOX_DOC").as_deref() == Ok("1") {
        std::fs::write(&path, &want)
            .unwrap_or_else(|e| panic!("cannot write {}: {e}", path.display()));
        return;
    }
    assert!(
        page == want,
        "{} is stale: run `FW_WRITE_SANDBOX_DOC=1 cargo test -p fw-testkit sandbox_doc`",
        path.display()
    );
}
