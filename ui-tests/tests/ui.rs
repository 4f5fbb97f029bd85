//! Compile-time behaviour of the attributes: every shape they accept (`pass/`, each a program
//! that really calls the annotated functions) and every misuse they reject with one clear error
//! (`fail/`, with the expected `.stderr`). Regenerate with `TRYBUILD=overwrite` and review.

#[test]
fn ui() {
    let t = trybuild::TestCases::new();
    t.pass("tests/ui/pass/*.rs");
    t.compile_fail("tests/ui/fail/*.rs");
}
