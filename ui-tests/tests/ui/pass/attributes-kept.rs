#![deny(unused_must_use, missing_docs)]
//! Attributes, docs and visibility stay as written.

/// Documented.
#[must_use]
#[kansoku::track_api_request]
#[inline]
pub fn documented() -> u32 {
    1
}

/// Only on this platform family.
#[cfg(any(unix, windows))]
#[kansoku::track_api_request]
pub async fn configured() -> u32 {
    2
}

/// Unsafe and `extern "C"` functions with a body can be instrumented too.
///
/// # Safety
/// None needed; it is only declared unsafe.
#[kansoku::track_api_request]
pub unsafe extern "C" fn c_abi(x: u32) -> u32 {
    x + 1
}

mod inner {
    /// Restricted visibility.
    #[kansoku::track_api_request]
    pub(crate) fn restricted() -> u32 {
        3
    }
}

#[kansoku::track_api_request]
fn r#match() -> u32 {
    4
}

#[kansoku::track_api_request]
fn patterns((a, b): (u32, u32), mut c: u32) -> u32 {
    c += 1;
    a + b + c
}

/// Entry point.
#[tokio::main]
pub async fn main() {
    assert_eq!(documented(), 1);
    assert_eq!(configured().await, 2);
    // SAFETY: `c_abi` has no safety requirement.
    assert_eq!(unsafe { c_abi(1) }, 2);
    assert_eq!(inner::restricted(), 3);
    assert_eq!(r#match(), 4);
    assert_eq!(patterns((1, 2), 3), 7);
}
