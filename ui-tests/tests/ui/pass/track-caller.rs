//! `#[track_caller]` keeps its meaning on an annotated function: `Location::caller()` and the
//! panics in the body name the caller's line, `return` and `?` still leave the function.

use std::panic::Location;
use std::sync::atomic::{AtomicU32, Ordering};

#[derive(Debug, PartialEq)]
struct Empty;

#[kansoku::track_api_request]
#[track_caller]
fn caller() -> &'static Location<'static> {
    Location::caller()
}

#[track_caller]
#[kansoku::monitor_api_endpoint]
fn checked(input: &str) -> Result<u32, Empty> {
    if input.is_empty() {
        return Err(Empty);
    }
    let parsed: Result<u32, Empty> = input.parse().map_err(|_| Empty);
    let value = parsed?;
    let in_closure = || {
        return 1;
    };
    Ok(value + in_closure())
}

#[kansoku::track_database_query("select", "lines")]
#[track_caller]
fn line_or_none(give: bool) -> Option<u32> {
    let gate = if give { Some(()) } else { None };
    gate?;
    for n in 0.. {
        if n == 2 {
            return Some(Location::caller().line());
        }
    }
    None
}

#[kansoku::track_api_request]
#[track_caller]
fn must(value: Option<u8>) -> u8 {
    value.unwrap()
}

fn main() {
    let line = line!();
    let location = caller();
    assert_eq!(location.line(), line + 1);
    assert_eq!(location.file(), file!());

    assert_eq!(checked("4"), Ok(5));
    assert_eq!(checked(""), Err(Empty));
    assert_eq!(checked("x"), Err(Empty));

    let line = line!();
    assert_eq!(line_or_none(true), Some(line + 1));
    assert_eq!(line_or_none(false), None);

    // the panic of `unwrap` in the body is reported at the caller's line
    static PANIC_LINE: AtomicU32 = AtomicU32::new(0);
    std::panic::set_hook(Box::new(|info| {
        PANIC_LINE.store(info.location().map_or(0, Location::line), Ordering::SeqCst);
    }));
    let line = line!();
    assert!(std::panic::catch_unwind(|| must(None)).is_err());
    assert_eq!(PANIC_LINE.load(Ordering::SeqCst), line + 1);
    assert_eq!(must(Some(3)), 3);
}
