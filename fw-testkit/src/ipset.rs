//! `ipset save` output made comparable between two runs.

/// `ipset save` without the random `initval` of hash sets, lines sorted: a hash set lists its
/// members in hash order, which differs between two sets of the same content.
pub fn comparable_save(text: &str) -> String {
    let mut lines: Vec<&str> = text
        .lines()
        .map(|l| l.find(" initval ").map_or(l, |i| &l[..i]))
        .collect();
    lines.sort_unstable();
    lines.join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn initval_and_order_do_not_count() {
        let a = "create s hash:net family inet hashsize 1024 maxelem 65536 initval 0x1\nadd s 10.0.0.0/8\nadd s 192.0.2.0/24";
        let b = "add s 192.0.2.0/24\ncreate s hash:net family inet hashsize 1024 maxelem 65536 initval 0x2\nadd s 10.0.0.0/8";
        assert_eq!(comparable_save(a), comparable_save(b));
        assert_ne!(comparable_save(a), comparable_save("add s 10.0.0.0/8"));
    }
}
