//! The suite's folders are layers: `world` (the simulated world) <- `judge` (the checks) <-
//! `report` (the renderings) <- `campaigns` (stress, bench). A file may import from its own
//! folder and the folders before it, never from one after it: the world knows nothing of
//! judging, the judge nothing of reports. This test reads the sources and names every file that
//! breaks the order.

use std::path::{Path, PathBuf};

const LAYERS: [&str; 4] = ["world", "judge", "report", "campaigns"];

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let entries = std::fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    for entry in entries {
        let path = entry
            .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
            .path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|x| x == "rs") {
            out.push(path);
        }
    }
}

/// The code of a file: its lines without the comments that take a whole line (a doc comment
/// may mention a later layer; code may not use it).
fn code(text: &str) -> String {
    text.lines()
        .filter(|l| !l.trim_start().starts_with("//"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// Every `crate::LAYER` a file's code names, for the layers after `own`.
fn later_layers_named(text: &str, own: usize) -> Vec<&'static str> {
    LAYERS[own + 1..]
        .iter()
        .copied()
        .filter(|later| {
            let needle = format!("crate::{later}");
            text.match_indices(&needle).any(|(i, _)| {
                // `crate::report` but not `crate::reporting`.
                !text[i + needle.len()..].starts_with(|c: char| c.is_alphanumeric() || c == '_')
            })
        })
        .collect()
}

#[test]
fn each_folder_imports_only_the_folders_before_it() {
    let src = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut broken = Vec::new();
    for (own, layer) in LAYERS.iter().enumerate() {
        let mut files = Vec::new();
        rust_files(&src.join(layer), &mut files);
        assert!(!files.is_empty(), "src/{layer} holds no Rust file");
        for file in files {
            let text = std::fs::read_to_string(&file)
                .unwrap_or_else(|e| panic!("{}: {e}", file.display()));
            for later in later_layers_named(&code(&text), own) {
                broken.push(format!(
                    "{} (in {layer}) names crate::{later}",
                    file.strip_prefix(&src).unwrap_or(&file).display()
                ));
            }
        }
    }
    assert!(
        broken.is_empty(),
        "layers out of order:\n{}",
        broken.join("\n")
    );
}

#[test]
fn a_later_layer_named_is_seen() {
    assert_eq!(
        later_layers_named("use crate::judge::verdict::Verdict;", 0),
        ["judge"]
    );
    assert_eq!(later_layers_named("use crate::reporting::x;", 1), [""; 0]);
    assert_eq!(later_layers_named("use crate::world::netns;", 1), [""; 0]);
    assert_eq!(
        later_layers_named(&code("//! see [`crate::report`]\nuse crate::world::x;"), 0),
        [""; 0]
    );
}
