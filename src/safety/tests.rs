use super::*;

fn screen() -> Screen {
    Screen::embedded()
}

#[test]
fn the_embedded_rules_load() {
    let _ = screen();
}
