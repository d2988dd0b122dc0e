//! Arbitrary bytes in an inventory file never panic wwctl: they load or
//! give diagnostics.

use proptest::prelude::*;

fn load_bytes(bytes: &[u8]) {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("fleets.yaml"), bytes).unwrap();
    let _ = wwctl::inventory::load(dir.path(), None);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        load_bytes(&bytes);
    }

    #[test]
    fn yaml_like_text_never_panics(text in r#"([a-z_@"'&*!|>:\-\[\]{},. 0-9\n]|  ){0,300}"#) {
        load_bytes(text.as_bytes());
    }

    #[test]
    fn shipped_inventory_with_a_cut_never_panics(cut in 0usize..2000, insert in "[^\x00]{0,8}") {
        let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/inventory/fleets.yaml")).unwrap();
        let cut = cut.min(text.len());
        let cut = (0..=cut).rev().find(|index| text.is_char_boundary(*index)).unwrap_or(0);
        let mutated = format!("{}{insert}{}", &text[..cut], &text[cut..]);
        load_bytes(mutated.as_bytes());
    }
}
