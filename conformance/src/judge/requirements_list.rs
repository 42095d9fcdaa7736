//! The hand-maintained list of requirements (`docs/requirements-ids.txt`: `ID LEVEL` a line, in
//! the requirements' order) and its comparison with the catalog.
//!
//! The list is the catalog's independent reference: `docs/requirements.md` is generated from
//! the catalog, so comparing the two only proves the doc was regenerated. Comparing the catalog
//! with a list written from the requirements themselves makes a case dropped, a level changed, an ID renamed
//! or the order changed fail until the list is changed too, on purpose.

use crate::judge::verdict::Level;

/// The rows of the list: comment lines (`#`) and blank lines skipped; `Err` names a line that is
/// not `ID LEVEL`.
pub fn parse(text: &str) -> Result<Vec<(String, Level)>, String> {
    let mut rows = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let words: Vec<&str> = line.split_whitespace().collect();
        let level = match words.as_slice() {
            [_, "MUST"] => Level::Must,
            [_, "SHOULD"] => Level::Should,
            [_, "INFO"] => Level::Info,
            _ => {
                return Err(format!(
                    "line {}: {line:?} is not `ID LEVEL` (MUST, SHOULD or INFO)",
                    n + 1
                ));
            }
        };
        rows.push((words[0].to_owned(), level));
    }
    Ok(rows)
}

/// Every difference between the list (`want`) and the catalog (`have`), in words: a
/// requirement without a case, a case without a requirement, a level that differs, the order.
pub fn differences(want: &[(String, Level)], have: &[(&str, Level)]) -> Vec<String> {
    let mut out = Vec::new();
    for (id, level) in want {
        match have.iter().find(|(h, _)| h == id) {
            None => out.push(format!("{id} ({level}) has no case in the catalog")),
            Some((_, l)) if l != level => out.push(format!(
                "{id} is {level} in the list but {l} in the catalog"
            )),
            Some(_) => {}
        }
    }
    for (id, level) in have {
        if !want.iter().any(|(w, _)| w == id) {
            out.push(format!(
                "{id} ({level}) is in the catalog but not in the list"
            ));
        }
    }
    let order: Vec<&str> = have.iter().map(|(h, _)| *h).collect();
    let listed: Vec<&str> = want.iter().map(|(w, _)| w.as_str()).collect();
    let common = |v: &[&str], other: &[&str]| -> Vec<String> {
        v.iter()
            .filter(|i| other.contains(i))
            .map(|i| (*i).to_owned())
            .collect()
    };
    if out.is_empty() && common(&order, &listed) != common(&listed, &order) {
        out.push("the catalog's order differs from the list's".to_owned());
    }
    out
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    const LIST: &str = "# comment\nPOL-01 MUST\n\nPOL-06 SHOULD\nPOL-07 INFO\n";

    fn catalog_like() -> Vec<(&'static str, Level)> {
        vec![
            ("POL-01", Level::Must),
            ("POL-06", Level::Should),
            ("POL-07", Level::Info),
        ]
    }

    #[test]
    fn the_list_parses_and_matches_an_identical_catalog() {
        let want = parse(LIST).unwrap();
        assert_eq!(want.len(), 3);
        assert!(differences(&want, &catalog_like()).is_empty());
        assert!(parse("POL-01\n").unwrap_err().contains("line 1"));
        assert!(parse("POL-01 MAY\n").is_err());
    }

    /// Each edit of the catalog the list guards against is reported.
    #[test]
    fn a_dropped_row_a_changed_level_a_renamed_id_and_a_new_order_fail() {
        let want = parse(LIST).unwrap();
        let mut dropped = catalog_like();
        dropped.remove(1);
        assert_eq!(
            differences(&want, &dropped),
            ["POL-06 (SHOULD) has no case in the catalog"]
        );
        let mut level = catalog_like();
        level[1].1 = Level::Must;
        assert_eq!(
            differences(&want, &level),
            ["POL-06 is SHOULD in the list but MUST in the catalog"]
        );
        let mut renamed = catalog_like();
        renamed[0].0 = "POL-00";
        assert_eq!(
            differences(&want, &renamed),
            [
                "POL-01 (MUST) has no case in the catalog",
                "POL-00 (MUST) is in the catalog but not in the list"
            ]
        );
        let mut order = catalog_like();
        order.swap(0, 2);
        assert_eq!(
            differences(&want, &order),
            ["the catalog's order differs from the list's"]
        );
    }
}
