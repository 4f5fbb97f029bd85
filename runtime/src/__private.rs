//! What the attribute macros expand into. **Not a stable API**: anything here may change in any
//! release; only the attributes themselves are public.
//!
//! Each annotated function gets one `static Site` describing the call site (a compile-time
//! constant) and, per call, a [`Call`] guard. The macros never look at features: with no
//! backend on, `Site` holds only its description and `Call` is zero-sized, so everything here
//! inlines to nothing.

use std::error::Error as StdError;
use std::future::Future;
use std::marker::PhantomData;
use std::mem::ManuallyDrop;
use std::pin::Pin;
use std::task::{Context, Poll};

#[cfg(any(feature = "otel", feature = "redis"))]
use crate::record;

/// The annotated function, as the macro saw it.
#[derive(Debug, Clone, Copy)]
pub struct FnInfo {
    /// The function's identifier.
    pub function: &'static str,
    /// `module_path!()` at the function.
    pub module_path: &'static str,
    /// `file!()` at the function.
    pub file: &'static str,
    /// `line!()` at the function.
    pub line: u32,
    /// It has a `self` receiver, so its default name is `Type::function`.
    pub is_method: bool,
}

/// Which attribute made the site.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SiteKind {
    /// `#[track_api_request]`
    ApiRequest,
    /// `#[track_database_query]`
    DbQuery,
    /// `#[monitor_api_endpoint]`
    Endpoint,
}

/// One annotated function: its description and, with a metrics backend on, its counters.
#[derive(Debug)]
// `secondary` and friends are read by the exporters (and soon the Sentry backend).
#[cfg_attr(not(feature = "otel"), allow(dead_code))]
pub struct Site {
    pub(crate) info: FnInfo,
    pub(crate) kind: SiteKind,
    /// endpoint (api), name (endpoint), operation (query)
    pub(crate) primary: Option<&'static str>,
    /// method (api), op (endpoint), table (query)
    pub(crate) secondary: Option<&'static str>,
    /// The `endpoint` label / transaction name, resolved on the first call.
    #[cfg(any(feature = "otel", feature = "redis", feature = "sentry"))]
    name: std::sync::OnceLock<&'static str>,
    #[cfg(any(feature = "otel", feature = "redis"))]
    pub(crate) core: record::SiteCore,
}

impl Site {
    const fn new(
        info: FnInfo,
        kind: SiteKind,
        primary: Option<&'static str>,
        secondary: Option<&'static str>,
    ) -> Site {
        Site {
            info,
            kind,
            primary,
            secondary,
            #[cfg(any(feature = "otel", feature = "redis", feature = "sentry"))]
            name: std::sync::OnceLock::new(),
            #[cfg(any(feature = "otel", feature = "redis"))]
            core: record::SiteCore::new(),
        }
    }

    /// `#[track_api_request(method = …, endpoint = …)]`
    pub const fn api_request(
        info: FnInfo,
        endpoint: Option<&'static str>,
        method: &'static str,
    ) -> Site {
        Site::new(info, SiteKind::ApiRequest, endpoint, Some(method))
    }

    /// `#[track_database_query(operation, table)]`
    pub const fn db_query(info: FnInfo, operation: &'static str, table: &'static str) -> Site {
        Site::new(info, SiteKind::DbQuery, Some(operation), Some(table))
    }

    /// `#[monitor_api_endpoint(name = …, op = …)]`
    pub const fn endpoint(
        info: FnInfo,
        name: Option<&'static str>,
        op: Option<&'static str>,
    ) -> Site {
        Site::new(info, SiteKind::Endpoint, name, op)
    }

    /// The attribute that made this site.
    pub fn kind(&self) -> SiteKind {
        self.kind
    }

    /// The function as the macro saw it.
    pub fn info(&self) -> &FnInfo {
        &self.info
    }

    /// A call of a free function (or of a method whose name was given explicitly) begins.
    #[inline(always)]
    pub fn start(&'static self) -> Call {
        self.begin(None)
    }

    /// A call of a method begins; `type_name` names `Self` for the default `Type::method` name.
    #[inline(always)]
    pub fn start_method(&'static self, type_name: fn() -> &'static str) -> Call {
        self.begin(Some(type_name))
    }

    #[inline(always)]
    #[cfg_attr(
        not(any(feature = "otel", feature = "redis", feature = "sentry")),
        allow(unused_variables, clippy::unused_self)
    )]
    fn begin(&'static self, type_name: Option<fn() -> &'static str>) -> Call {
        Call {
            #[cfg(any(feature = "otel", feature = "redis"))]
            active: ManuallyDrop::new(record::Active::start(self, type_name)),
            #[cfg(feature = "sentry")]
            sentry: ManuallyDrop::new(crate::sentry::CallScope::start(self, type_name)),
        }
    }

    /// The `endpoint` label and transaction name: the given name, else `function` or
    /// `Type::function`. Fixed by the site's first call.
    #[cfg(any(feature = "otel", feature = "redis", feature = "sentry"))]
    #[inline]
    pub(crate) fn resolved_name(&self, type_name: Option<fn() -> &'static str>) -> &'static str {
        self.name.get_or_init(|| {
            if let Some(given) = self.primary.filter(|_| self.kind != SiteKind::DbQuery) {
                return given;
            }
            match type_name {
                Some(type_name) if self.info.is_method => {
                    let ty = short_type_name(type_name());
                    Box::leak(format!("{ty}::{}", self.info.function).into_boxed_str())
                }
                _ => self.info.function,
            }
        })
    }

    /// The name once resolved (the function's name before the first call).
    #[cfg(any(feature = "otel", feature = "redis", feature = "sentry"))]
    pub(crate) fn name(&self) -> &'static str {
        self.name.get().copied().unwrap_or(self.info.function)
    }
}

/// One call in progress. [`Call::finish`] records how it ended; dropped without it, the call
/// panicked (when the thread is panicking) or was cancelled (its future was dropped).
#[must_use = "a call is recorded when it is finished or dropped"]
#[derive(Debug)]
pub struct Call {
    // `ManuallyDrop` so that `finish` and `drop` each move them out exactly once, without the
    // cost of an `Option::take` on the hot path.
    #[cfg(any(feature = "otel", feature = "redis"))]
    active: ManuallyDrop<record::Active>,
    #[cfg(feature = "sentry")]
    sentry: ManuallyDrop<Option<crate::sentry::CallScope>>,
}

impl Call {
    /// Runs the body of an `async fn` (or the future an `#[async_trait]` method returns). The
    /// wrapper lets a backend make the call's context current at every poll, on whichever
    /// thread polls it; with none that needs it, it only polls `future`.
    #[inline(always)]
    pub fn bind<F: Future>(&self, future: F) -> Bound<'_, F> {
        Bound {
            #[cfg(feature = "sentry")]
            call: self,
            #[cfg(not(feature = "sentry"))]
            call: PhantomData,
            future,
        }
    }

    /// Runs the body of a plain `fn`, as a closure so that `return` and `?` in it keep their
    /// meaning.
    #[inline(always)]
    pub fn in_scope<R>(&self, body: impl FnOnce() -> R) -> R {
        let _entered = self.enter();
        body()
    }

    /// Makes the call's context current until the guard is dropped.
    #[inline(always)]
    pub fn enter(&self) -> Entered {
        Entered {
            #[cfg(feature = "sentry")]
            _sentry: self.sentry.as_ref().map(crate::sentry::CallScope::enter),
        }
    }

    /// For a body that runs inline (a `#[track_caller]` fn): a `?` that leaves the function
    /// drops the guard without [`Inline::finish`], and the call then ends with `early_exit`,
    /// the outcome its declared return type implies.
    #[inline(always)]
    pub fn inline(self, early_exit: Outcome<'static>) -> Inline {
        Inline {
            call: ManuallyDrop::new(self),
            early_exit,
        }
    }

    /// `#[monitor_api_endpoint(fields(name))]`: records an argument's `Debug` form in the
    /// call's Sentry context `arguments`. The `Debug` bound holds with every feature set, so
    /// turning `sentry` on never breaks a build.
    #[inline]
    #[cfg_attr(not(feature = "sentry"), allow(unused_variables, clippy::unused_self))]
    pub fn field(&self, name: &'static str, value: &dyn core::fmt::Debug) {
        #[cfg(feature = "sentry")]
        if let Some(scope) = self.sentry.as_ref() {
            scope.record_argument(name, value);
        }
    }

    /// The call returned `outcome`.
    #[inline(always)]
    #[cfg_attr(
        not(any(feature = "otel", feature = "redis", feature = "sentry")),
        allow(unused_variables)
    )]
    pub fn finish(self, outcome: Outcome<'_>) {
        #[cfg(any(feature = "otel", feature = "redis", feature = "sentry"))]
        {
            let mut this = ManuallyDrop::new(self);
            // SAFETY: `this` is never dropped, so each field is taken exactly once, here.
            #[cfg(feature = "sentry")]
            if let Some(scope) = unsafe { ManuallyDrop::take(&mut this.sentry) } {
                scope.finish(&outcome);
            }
            // SAFETY: as above.
            #[cfg(any(feature = "otel", feature = "redis"))]
            unsafe { ManuallyDrop::take(&mut this.active) }.finish(&outcome);
        }
    }
}

#[cfg(any(feature = "otel", feature = "redis", feature = "sentry"))]
impl Drop for Call {
    #[inline]
    fn drop(&mut self) {
        // SAFETY: `drop` runs at most once and `finish` never lets it run after taking them,
        // so each field is taken exactly once.
        #[cfg(feature = "sentry")]
        if let Some(scope) = unsafe { ManuallyDrop::take(&mut self.sentry) } {
            scope.abandon();
        }
        // SAFETY: as above.
        #[cfg(any(feature = "otel", feature = "redis"))]
        unsafe { ManuallyDrop::take(&mut self.active) }.abandon();
    }
}

/// The call's context made current, by [`Call::enter`]; restored when dropped.
#[derive(Debug)]
#[must_use = "the context is current only while the guard lives"]
pub struct Entered {
    #[cfg(feature = "sentry")]
    _sentry: Option<crate::sentry::call::Entered>,
}

/// A call whose body runs inline, made by [`Call::inline`].
#[must_use = "a call is recorded when it is finished or dropped"]
#[derive(Debug)]
pub struct Inline {
    call: ManuallyDrop<Call>,
    early_exit: Outcome<'static>,
}

impl Inline {
    /// Makes the call's context current until the guard is dropped.
    #[inline(always)]
    pub fn enter(&self) -> Entered {
        self.call.enter()
    }

    /// The body returned `outcome`.
    #[inline(always)]
    pub fn finish(self, outcome: Outcome<'_>) {
        let mut this = ManuallyDrop::new(self);
        // SAFETY: `this` is never dropped, so the call is taken exactly once, here.
        unsafe { ManuallyDrop::take(&mut this.call) }.finish(outcome);
    }
}

impl Drop for Inline {
    #[inline]
    fn drop(&mut self) {
        // SAFETY: `drop` runs at most once and `finish` never lets it run after taking it.
        let call = unsafe { ManuallyDrop::take(&mut self.call) };
        if std::thread::panicking() {
            drop(call);
        } else {
            call.finish(self.early_exit);
        }
    }
}

/// The body of an annotated `async fn`, made by [`Call::bind`].
#[must_use = "futures do nothing unless polled"]
#[derive(Debug)]
pub struct Bound<'a, F> {
    #[cfg(feature = "sentry")]
    call: &'a Call,
    #[cfg(not(feature = "sentry"))]
    call: PhantomData<&'a Call>,
    future: F,
}

impl<F: Future> Future for Bound<'_, F> {
    type Output = F::Output;

    #[inline(always)]
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        // SAFETY: `future` is structurally pinned: `Bound` never moves it out, has no `Drop`
        // impl, and is `Unpin` only when `F` is.
        let this = unsafe { self.get_unchecked_mut() };
        #[cfg(feature = "sentry")]
        let _entered = this
            .call
            .sentry
            .as_ref()
            .map(crate::sentry::CallScope::enter);
        // SAFETY: as above.
        unsafe { Pin::new_unchecked(&mut this.future) }.poll(cx)
    }
}

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
