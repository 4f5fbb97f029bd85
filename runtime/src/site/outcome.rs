//! How a call ended: what its return value says ([`Outcome`], decided by the `classify!`
//! macros the expansion calls) and, once the guard knows whether it returned, panicked or was
//! dropped, its [`Ending`], the one decision every backend is handed.

use std::error::Error as StdError;
use std::marker::PhantomData;

use super::Status;

/// How a returned call ended, as far as its return type tells.
#[derive(Debug, Clone, Copy)]
pub enum Outcome<'a> {
    /// Not an `Err`.
    Ok,
    /// An `Err`.
    Err(ErrorRef<'a>),
}

/// The error of an `Err` outcome.
#[derive(Debug, Clone, Copy)]
pub struct ErrorRef<'a> {
    /// `core::any::type_name` of the error type.
    pub type_name: &'static str,
    /// The error itself, when its type implements `std::error::Error`.
    pub error: Option<&'a (dyn StdError + 'a)>,
}

impl ErrorRef<'_> {
    /// The error type's own name, without its module path or generic arguments:
    /// `shop::CheckoutError<u8>` is `CheckoutError`. This is the `kind` label.
    pub fn short_type_name(&self) -> &'static str {
        short_type_name(self.type_name)
    }
}

/// `a::b::Type<c::D>` → `Type`; `&a::Type` → `Type`; `(A, B)` is kept as written.
pub(crate) fn short_type_name(full: &'static str) -> &'static str {
    let base = full.split('<').next().unwrap_or(full);
    let base = base.rsplit("::").next().unwrap_or(base);
    let base = base
        .trim_start_matches(['&', '*'])
        .trim_start_matches("mut ")
        .trim_start_matches("dyn ");
    if base.is_empty() {
        full
    } else {
        base
    }
}

/// Borrowed return value for [`classify!`]: autoref specialisation picks the most specific
/// of the `Classify*` impls below.
#[derive(Debug)]
pub struct Wrap<'a, T: ?Sized>(pub &'a T);

/// Level 1: `Result<T, E>` whose error is a `std::error::Error`, kept for error capture.
pub trait ClassifyError<'a> {
    fn __kansoku_classify(&self) -> Outcome<'a>;
}
/// Level 2: any other `Result<T, E>`.
pub trait ClassifyResult<'a> {
    fn __kansoku_classify(&self) -> Outcome<'a>;
}
/// Level 3: any other type is an `ok` outcome.
pub trait ClassifyOther<'a> {
    fn __kansoku_classify(&self) -> Outcome<'a>;
}

// No `'static` bound: method selection cannot see lifetimes, so a bound on one would pick this
// impl for `Result<_, ParseErr<'a>>` and then fail to compile instead of falling back.
impl<'a, T, E: StdError + 'a> ClassifyError<'a> for &Wrap<'a, Result<T, E>> {
    #[inline(always)]
    fn __kansoku_classify(&self) -> Outcome<'a> {
        match self.0 {
            Ok(_) => Outcome::Ok,
            Err(error) => Outcome::Err(ErrorRef {
                type_name: core::any::type_name::<E>(),
                error: Some(error),
            }),
        }
    }
}

impl<'a, T, E> ClassifyResult<'a> for &&Wrap<'a, Result<T, E>> {
    #[inline(always)]
    fn __kansoku_classify(&self) -> Outcome<'a> {
        match self.0 {
            Ok(_) => Outcome::Ok,
            Err(_) => Outcome::Err(ErrorRef {
                type_name: core::any::type_name::<E>(),
                error: None,
            }),
        }
    }
}

impl<'a, T: ?Sized> ClassifyOther<'a> for Wrap<'a, T> {
    #[inline(always)]
    fn __kansoku_classify(&self) -> Outcome<'a> {
        Outcome::Ok
    }
}

/// `classify!(&value)`: the [`Outcome`] of a returned value.
#[doc(hidden)]
#[macro_export]
macro_rules! __kansoku_classify {
    ($out:expr) => {{
        #[allow(unused_imports)]
        use $crate::__private::{ClassifyError as _, ClassifyOther as _, ClassifyResult as _};
        (&&$crate::__private::Wrap($out)).__kansoku_classify()
    }};
}
pub use crate::__kansoku_classify as classify;

/// Level 1 of [`classify_type!`]: a `Result<T, E>` return type.
pub trait ClassifyResultType {
    fn __kansoku_classify_type(&self) -> Outcome<'static>;
}
/// Level 2 of [`classify_type!`]: any other return type.
pub trait ClassifyOtherType {
    fn __kansoku_classify_type(&self) -> Outcome<'static>;
}

impl<T, E> ClassifyResultType for &Wrap<'_, PhantomData<Result<T, E>>> {
    #[inline(always)]
    fn __kansoku_classify_type(&self) -> Outcome<'static> {
        Outcome::Err(ErrorRef {
            type_name: core::any::type_name::<E>(),
            error: None,
        })
    }
}

impl<T: ?Sized> ClassifyOtherType for Wrap<'_, T> {
    #[inline(always)]
    fn __kansoku_classify_type(&self) -> Outcome<'static> {
        Outcome::Ok
    }
}

/// `classify_type!(Type)`: the [`Outcome`] of a call of a function declared to return `Type`
/// that left it through `?`: an error for a `Result`, `ok` for anything else (`Option`).
#[doc(hidden)]
#[macro_export]
macro_rules! __kansoku_classify_type {
    ($ty:ty) => {{
        #[allow(unused_imports)]
        use $crate::__private::{ClassifyOtherType as _, ClassifyResultType as _};
        (&&$crate::__private::Wrap(&::core::marker::PhantomData::<$ty>)).__kansoku_classify_type()
    }};
}
pub use crate::__kansoku_classify_type as classify_type;

/// How a call ended, decided once by the guard and handed to every backend.
// Without a backend nobody reads the error of an ending.
#[cfg_attr(not(any_backend), allow(dead_code))]
#[derive(Debug, Clone, Copy)]
pub(crate) enum Ending<'a> {
    /// It returned, and not an `Err`.
    Ok,
    /// It returned this `Err`.
    Error(ErrorRef<'a>),
    /// It panicked (the thread is unwinding through it).
    Panic,
    /// Its future was dropped before it finished.
    Cancelled,
}

impl<'a> Ending<'a> {
    /// It returned `outcome`.
    #[inline(always)]
    pub(crate) fn returned(outcome: Outcome<'a>) -> Ending<'a> {
        match outcome {
            Outcome::Ok => Ending::Ok,
            Outcome::Err(error) => Ending::Error(error),
        }
    }

    /// It was dropped before returning: it panicked if the thread is unwinding, else it was
    /// cancelled.
    #[cold]
    pub(crate) fn abandoned() -> Ending<'static> {
        if std::thread::panicking() {
            Ending::Panic
        } else {
            Ending::Cancelled
        }
    }

    /// The `status` label.
    #[cfg_attr(not(store), allow(dead_code))]
    #[inline(always)]
    pub(crate) fn status(&self) -> Status {
        match self {
            Ending::Ok => Status::Ok,
            Ending::Error(_) => Status::Error,
            Ending::Panic => Status::Panic,
            Ending::Cancelled => Status::Cancelled,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug)]
    struct MyError;
    impl std::fmt::Display for MyError {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("mine")
        }
    }
    impl StdError for MyError {}

    fn kind(o: Outcome<'_>) -> Option<(&'static str, bool)> {
        match o {
            Outcome::Ok => None,
            Outcome::Err(e) => Some((e.short_type_name(), e.error.is_some())),
        }
    }

    #[test]
    fn classifies_results_errors_and_other_values() {
        let ok: Result<u8, MyError> = Ok(1);
        let err: Result<u8, MyError> = Err(MyError);
        let err_str: Result<u8, String> = Err("x".into());
        assert_eq!(kind(classify!(&ok)), None);
        assert_eq!(kind(classify!(&err)), Some(("MyError", true)));
        assert_eq!(kind(classify!(&err_str)), Some(("String", false)));
        assert_eq!(kind(classify!(&5_u32)), None);
        assert_eq!(kind(classify!(&None::<u8>)), None);
    }

    fn generic_kind<E>(r: &Result<(), E>) -> Option<(&'static str, bool)> {
        kind(classify!(r))
    }

    #[test]
    fn generic_error_types_fall_back_to_their_name() {
        assert_eq!(
            generic_kind::<MyError>(&Err(MyError)),
            Some(("MyError", false))
        );
    }

    #[test]
    fn classifies_declared_return_types() {
        assert_eq!(
            kind(classify_type!(Result<u8, MyError>)),
            Some(("MyError", false))
        );
        assert_eq!(kind(classify_type!(Option<u8>)), None);
        assert_eq!(kind(classify_type!(())), None);
    }

    #[test]
    fn short_names() {
        assert_eq!(short_type_name("a::b::Type<c::D>"), "Type");
        assert_eq!(short_type_name("std::io::error::Error"), "Error");
        assert_eq!(short_type_name("&str"), "str");
        assert_eq!(short_type_name("Plain"), "Plain");
    }
}
