//! Function shapes re-created from the test suite of `tracing-attributes` (its `tests/*.rs` and
//! `tests/ui/`), plus the neighbouring shapes a user is likely to write: generics, lifetimes,
//! receivers, patterns in arguments, early returns, `impl Trait`, diverging and `unsafe`
//! functions, trait methods, stacking with `#[tracing::instrument]`. Each is annotated with one
//! of kansoku's attributes and called from `main`, which checks that it returns what the plain
//! function returns. Issue 7: an annotated function compiles exactly when the plain one does.
#![allow(dead_code, clippy::needless_return, clippy::unused_unit)]

use std::cell::RefCell;

thread_local! {
    static LOG: RefCell<Vec<&'static str>> = const { RefCell::new(Vec::new()) };
}

fn log(entry: &'static str) {
    LOG.with(|log| log.borrow_mut().push(entry));
}

fn take_log() -> Vec<&'static str> {
    LOG.with(|log| std::mem::take(&mut *log.borrow_mut()))
}

/// Records its name when dropped.
#[derive(Debug)]
struct Loud(&'static str);

impl Drop for Loud {
    fn drop(&mut self) {
        log(self.0);
    }
}

mod t01 {
    // an inner attribute in the body overrides an outer lint level (tracing #2294)
    #[deny(unused_variables)]
    #[kansoku::track_api_request]
    fn inner_attribute() {
        #![allow(unused_variables)]
        let i = 42;
    }

    pub fn run() {
        inner_attribute();
    }
}

mod t02 {
    #[kansoku::track_database_query("select", "shops")]
    fn three_args(arg1: usize, arg2: bool, arg3: String) -> usize {
        if arg2 {
            arg1 + arg3.len()
        } else {
            arg1
        }
    }

    pub fn run() {
        assert_eq!(three_args(2, false, "Cool".to_string()), 2);
        assert_eq!(three_args(3, true, "Still Cool".to_string()), 13);
    }
}

mod t03 {
    pub struct NotDebug;

    #[kansoku::monitor_api_endpoint]
    fn underscore_named(arg1: usize, _arg2: NotDebug, _arg3: NotDebug) -> usize {
        arg1
    }

    #[kansoku::track_api_request]
    fn wildcard(_: NotDebug, x: u8, _: u8) -> u8 {
        x
    }

    pub fn run() {
        assert_eq!(underscore_named(2, NotDebug, NotDebug), 2);
        assert_eq!(wildcard(NotDebug, 4, 5), 4);
    }
}

mod t04 {
    use std::fmt::Debug;

    #[kansoku::track_database_query("select", "shops")]
    fn generic_where<S, T: Debug>(arg1: S, arg2: T) -> String
    where
        S: Debug,
    {
        format!("{arg1:?} {arg2:?}")
    }

    #[kansoku::monitor_api_endpoint]
    fn unsized_param<T: ?Sized + Debug>(value: &T) -> String {
        format!("{value:?}")
    }

    pub fn run() {
        assert_eq!(generic_where("a", false), "\"a\" false");
        assert_eq!(unsized_param("x"), "\"x\"");
        assert_eq!(unsized_param::<[u8]>(&[1, 2]), "[1, 2]");
    }
}

mod t05 {
    #[derive(Debug)]
    pub struct Foo(usize);

    impl Foo {
        #[kansoku::track_api_request]
        fn method(&self, arg1: usize) -> usize {
            self.0 + arg1
        }

        #[kansoku::track_database_query("select", "shops")]
        fn method_mut(&mut self, arg1: usize) -> &mut usize {
            self.0 += arg1;
            &mut self.0
        }

        #[kansoku::monitor_api_endpoint]
        fn by_value(self) -> usize {
            self.0
        }

        #[kansoku::track_api_request]
        fn by_mut_value(mut self, add: usize) -> usize {
            self.0 += add;
            self.0
        }

        #[kansoku::track_database_query("select", "shops")]
        fn boxed(self: Box<Self>) -> usize {
            self.0
        }

        #[kansoku::monitor_api_endpoint]
        fn arced(self: std::sync::Arc<Self>) -> usize {
            self.0
        }

        #[kansoku::track_api_request]
        fn rced(self: std::rc::Rc<Self>) -> usize {
            self.0
        }

        #[kansoku::track_database_query("select", "shops")]
        fn pinned(self: std::pin::Pin<&mut Self>) -> usize {
            self.0
        }

        #[kansoku::monitor_api_endpoint]
        #[allow(clippy::needless_arbitrary_self_type)]
        fn explicit_ref(self: &Self) -> usize {
            self.0
        }

        #[kansoku::track_api_request]
        fn new(value: usize) -> Self {
            Self(value)
        }
    }

    pub fn run() {
        let mut foo = Foo::new(1);
        assert_eq!(foo.method(41), 42);
        *foo.method_mut(1) += 1;
        assert_eq!(foo.explicit_ref(), 3);
        assert_eq!(Box::new(Foo(4)).boxed(), 4);
        assert_eq!(std::sync::Arc::new(Foo(5)).arced(), 5);
        assert_eq!(std::rc::Rc::new(Foo(6)).rced(), 6);
        let mut pinned = Foo(7);
        assert_eq!(std::pin::Pin::new(&mut pinned).pinned(), 7);
        assert_eq!(Foo(8).by_mut_value(1), 9);
        assert_eq!(foo.by_value(), 3);
    }
}

mod t06 {
    #[kansoku::monitor_api_endpoint]
    fn returns_impl_trait(x: usize) -> impl Iterator<Item = usize> {
        0..x
    }

    #[kansoku::track_api_request]
    fn impl_copy() -> impl Copy {
        42
    }

    #[kansoku::track_database_query("select", "shops")]
    fn result_impl(x: usize) -> Result<impl Iterator<Item = usize>, String> {
        Ok(0..x)
    }

    #[kansoku::monitor_api_endpoint]
    fn nested_impl(n: u8) -> impl Iterator<Item = impl std::fmt::Display> {
        (0..n).map(|i| i * 2)
    }

    #[kansoku::track_api_request]
    fn capturing<'a>(items: &'a [u8], min: u8) -> impl Iterator<Item = &'a u8> + 'a {
        items.iter().filter(move |x| **x >= min)
    }

    #[kansoku::track_database_query("select", "shops")]
    fn pair() -> (impl std::fmt::Display, impl std::fmt::Debug) {
        (1, "two")
    }

    #[kansoku::monitor_api_endpoint]
    fn impl_arg(items: impl IntoIterator<Item = u8>) -> u32 {
        items.into_iter().map(u32::from).sum()
    }

    #[kansoku::track_api_request]
    fn impl_fn_return(k: u8) -> impl Fn(u8) -> u8 {
        move |x| x + k
    }

    #[kansoku::track_database_query("select", "shops")]
    fn borrowing_closure(k: &u8) -> impl Fn(u8) -> u8 + '_ {
        move |x| x + *k
    }

    pub fn run() {
        assert_eq!(returns_impl_trait(10).count(), 10);
        let _ = impl_copy();
        assert_eq!(result_impl(3).unwrap().sum::<usize>(), 3);
        assert_eq!(nested_impl(3).map(|d| d.to_string()).collect::<String>(), "024");
        assert_eq!(capturing(&[1, 5, 9], 5).count(), 2);
        let (a, b) = pair();
        assert_eq!(format!("{a} {b:?}"), "1 \"two\"");
        assert_eq!(impl_arg([1, 2, 3]), 6);
        assert_eq!(impl_fn_return(2)(3), 5);
        let k = 4;
        assert_eq!(borrowing_closure(&k)(1), 5);
    }
}

mod t07 {
    // a local module named `tracing` (tracing #3119) and one named `kansoku`
    mod tracing {
        pub fn helper() -> &'static str {
            "test"
        }
    }

    mod core {}

    #[kansoku::track_api_request]
    fn uses_local_tracing() -> &'static str {
        tracing::helper()
    }

    pub fn run() {
        assert_eq!(uses_local_tracing(), "test");
    }
}

mod t08 {
    struct PollTwice(u8);

    impl std::future::Future for PollTwice {
        type Output = Result<(), ()>;

        fn poll(
            mut self: std::pin::Pin<&mut Self>,
            cx: &mut std::task::Context<'_>,
        ) -> std::task::Poll<Self::Output> {
            if self.0 == 0 {
                std::task::Poll::Ready(Ok(()))
            } else {
                self.0 -= 1;
                cx.waker().wake_by_ref();
                std::task::Poll::Pending
            }
        }
    }

    #[kansoku::track_api_request]
    async fn awaits_manual_future(polls: u8) -> Result<(), ()> {
        let future = PollTwice(polls);
        tracing::trace!(awaiting = true);
        future.await
    }

    #[kansoku::track_database_query("select", "shops")]
    async fn ret_impl_trait(n: i32) -> Result<impl Iterator<Item = i32>, ()> {
        let n = n;
        Ok((0..10).filter(move |x| *x < n))
    }

    #[kansoku::monitor_api_endpoint]
    async fn ret_impl_trait_err(n: i32) -> Result<impl Iterator<Item = i32>, &'static str> {
        Ok((0..10).filter(move |x| *x < n))
    }

    #[kansoku::track_api_request]
    async fn empty() {}

    #[kansoku::track_database_query("select", "shops")]
    #[rustfmt::skip]
    #[deny(clippy::suspicious_else_formatting)]
    async fn else_formatting(var: bool) -> String {
        format!(
            "{}",
            if var { "true" } else { "false" }
        )
    }

    #[kansoku::monitor_api_endpoint]
    #[deny(clippy::suspicious_else_formatting)]
    async fn only_comments() {
        // hello world
        // else
    }

    pub async fn run() {
        assert_eq!(awaits_manual_future(2).await, Ok(()));
        assert_eq!(ret_impl_trait(3).await.unwrap().count(), 3);
        assert_eq!(ret_impl_trait_err(4).await.unwrap().count(), 4);
        empty().await;
        assert_eq!(else_formatting(true).await, "true");
        only_comments().await;
    }
}

mod t09 {
    pub async fn run() {
        // nested annotated async fns, declared inside a function body
        #[kansoku::track_api_request]
        async fn outer() -> u8 {
            inner().await + 1
        }

        #[kansoku::track_database_query("select", "shops")]
        async fn inner() -> u8 {
            tracing::trace!(nested = true);
            1
        }

        assert_eq!(outer().await, 2);
    }
}

mod t10 {
    use std::future::Future;
    use std::pin::Pin;
    use std::sync::Arc;

    #[derive(Clone, Debug)]
    pub struct Thing {
        metrics: Arc<u8>,
    }

    impl Thing {
        #[kansoku::monitor_api_endpoint]
        fn boxed_future(&self) -> Pin<Box<dyn Future<Output = u8> + Send + '_>> {
            let val = self.clone();
            Box::pin(async move { *val.metrics })
        }

        // the future captures a local declared before the tail (tracing #1296)
        #[kansoku::track_api_request]
        fn out_of_scope(&mut self, _req: ()) -> Pin<Box<dyn Future<Output = Arc<u8>> + Send + Sync>> {
            let metrics = self.metrics.clone();
            Box::pin(async move { metrics })
        }
    }

    #[kansoku::track_database_query("select", "shops")]
    fn manual_impl_future() -> impl Future<Output = u8> {
        async move { 1 }
    }

    #[kansoku::monitor_api_endpoint]
    fn manual_box_pin() -> Pin<Box<dyn Future<Output = u8>>> {
        Box::pin(async move { 2 })
    }

    #[kansoku::track_api_request]
    fn non_move_tail(x: u8) -> impl Future<Output = Result<u8, String>> {
        let _ = x;
        async { Err("no".to_owned()) }
    }

    #[kansoku::track_database_query("select", "shops")]
    fn borrowed_future<'a>(s: &'a str) -> impl Future<Output = usize> + 'a {
        async move { s.len() }
    }

    #[kansoku::monitor_api_endpoint]
    fn pinned_call() -> Pin<Box<dyn Future<Output = u8> + Send>> {
        Box::pin(manual_impl_future())
    }

    type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send>>;

    #[kansoku::track_api_request]
    fn alias_future(n: u8) -> BoxFuture<u8> {
        Box::pin(async move { n })
    }

    #[kansoku::track_database_query("select", "shops")]
    fn impl_future_impl_output() -> impl Future<Output = impl std::fmt::Display> {
        async move { 5 }
    }

    #[kansoku::monitor_api_endpoint]
    fn recursive(n: u64) -> Pin<Box<dyn Future<Output = u64> + Send>> {
        Box::pin(async move {
            if n < 2 {
                n
            } else {
                recursive(n - 1).await + recursive(n - 2).await
            }
        })
    }

    #[kansoku::track_api_request]
    fn not_a_tail_future(flag: bool) -> Pin<Box<dyn Future<Output = u8> + Send>> {
        if flag {
            Box::pin(async { 1 })
        } else {
            Box::pin(async { 0 })
        }
    }

    pub async fn run() {
        let mut thing = Thing { metrics: Arc::new(3) };
        assert_eq!(thing.boxed_future().await, 3);
        assert_eq!(*thing.out_of_scope(()).await, 3);
        assert_eq!(manual_impl_future().await, 1);
        assert_eq!(manual_box_pin().await, 2);
        assert!(non_move_tail(1).await.is_err());
        assert_eq!(borrowed_future("abc").await, 3);
        assert_eq!(pinned_call().await, 1);
        assert_eq!(alias_future(4).await, 4);
        assert_eq!(impl_future_impl_output().await.to_string(), "5");
        assert_eq!(tokio::spawn(recursive(10)).await.unwrap(), 55);
        assert_eq!(not_a_tail_future(true).await, 1);
    }
}

mod t11 {
    use std::num::TryFromIntError;

    #[kansoku::track_api_request]
    fn err() -> Result<u8, TryFromIntError> {
        u8::try_from(1234)
    }

    #[kansoku::track_database_query("select", "shops")]
    #[allow(clippy::unused_unit)]
    fn err_suspicious_else() -> Result<u8, TryFromIntError> {
        {}
        u8::try_from(1234)
    }

    #[kansoku::monitor_api_endpoint]
    fn err_early_return() -> Result<u8, TryFromIntError> {
        u8::try_from(1234)?;
        Ok(5)
    }

    #[kansoku::track_api_request]
    async fn err_async(polls: usize) -> Result<u8, TryFromIntError> {
        for _ in 0..polls {
            tokio::task::yield_now().await;
        }
        u8::try_from(1234)
    }

    #[kansoku::track_database_query("select", "shops")]
    fn err_mut(out: &mut u8) -> Result<(), TryFromIntError> {
        *out = u8::try_from(1234)?;
        Ok(())
    }

    #[kansoku::monitor_api_endpoint]
    async fn err_mut_async(polls: usize, out: &mut u8) -> Result<(), TryFromIntError> {
        for _ in 0..polls {
            tokio::task::yield_now().await;
        }
        *out = u8::try_from(12)?;
        Ok(())
    }

    pub async fn run() {
        assert!(err().is_err());
        assert!(err_suspicious_else().is_err());
        assert!(err_early_return().is_err());
        assert!(err_async(2).await.is_err());
        let mut out = 0;
        assert!(err_mut(&mut out).is_err());
        assert!(err_mut_async(2, &mut out).await.is_ok());
        assert_eq!(out, 12);
    }
}

mod t12 {
    use std::num::TryFromIntError;

    #[kansoku::track_api_request]
    #[tracing::instrument(ret)]
    fn ret() -> i32 {
        42
    }

    #[tracing::instrument(target = "my_target", ret)]
    #[kansoku::track_database_query("select", "shops")]
    fn ret_with_target() -> i32 {
        42
    }

    #[kansoku::monitor_api_endpoint]
    #[tracing::instrument(level = "warn", ret(level = "info"))]
    fn ret_warn_info() -> i32 {
        42
    }

    #[tracing::instrument(ret)]
    #[kansoku::track_api_request]
    fn ret_mut(a: &mut i32) -> i32 {
        *a *= 2;
        tracing::info!(?a);
        *a
    }

    #[kansoku::track_database_query("select", "shops")]
    #[tracing::instrument(ret)]
    async fn ret_async() -> i32 {
        42
    }

    #[tracing::instrument(ret)]
    #[kansoku::monitor_api_endpoint]
    fn ret_impl_type() -> impl Copy {
        42
    }

    #[kansoku::track_api_request]
    #[tracing::instrument(ret(Display))]
    fn ret_display() -> i32 {
        42
    }

    #[tracing::instrument(err, ret)]
    #[kansoku::track_database_query("select", "shops")]
    fn ret_and_err() -> Result<u8, TryFromIntError> {
        u8::try_from(1234)
    }

    #[kansoku::monitor_api_endpoint]
    #[tracing::instrument(err(Debug, level = "info"), ret)]
    async fn ret_and_err_async() -> Result<u8, TryFromIntError> {
        u8::try_from(123)
    }

    #[tracing::instrument(err, ret)]
    #[kansoku::track_api_request]
    async fn ret_and_err_async_rev(x: u16) -> Result<u8, TryFromIntError> {
        u8::try_from(x)
    }

    #[kansoku::track_database_query("select", "shops")]
    #[tracing::instrument(err)]
    fn impl_trait_err(x: usize) -> Result<impl Iterator<Item = usize>, String> {
        Ok(0..x)
    }

    pub async fn run() {
        assert_eq!(ret(), 42);
        assert_eq!(ret_with_target(), 42);
        assert_eq!(ret_warn_info(), 42);
        assert_eq!(ret_mut(&mut 1), 2);
        assert_eq!(ret_async().await, 42);
        let _ = ret_impl_type();
        assert_eq!(ret_display(), 42);
        assert!(ret_and_err().is_err());
        assert_eq!(ret_and_err_async().await, Ok(123));
        assert!(ret_and_err_async_rev(300).await.is_err());
        assert_eq!(impl_trait_err(2).unwrap().count(), 2);
    }
}

mod t13 {
    pub struct Foo(pub usize, pub usize);

    pub struct Named {
        pub bar: usize,
        pub baz: usize,
    }

    pub struct Outer {
        pub bar: Bar,
        pub baz: (usize, usize),
        pub qux: NoDebug,
    }

    pub struct Bar(pub (usize, usize));

    pub struct NoDebug;

    #[kansoku::track_api_request]
    fn tuples((arg1, arg2): (usize, usize)) -> usize {
        arg1 + arg2
    }

    #[kansoku::track_database_query("select", "shops")]
    fn nested_tuples(((arg1, arg2), (arg3, arg4)): ((usize, usize), (usize, usize))) -> usize {
        arg1 + arg2 + arg3 + arg4
    }

    #[kansoku::monitor_api_endpoint]
    fn refs(&arg1: &usize) -> usize {
        arg1
    }

    #[kansoku::track_api_request]
    fn tuple_struct(Foo(arg1, arg2): Foo) -> usize {
        arg1 * arg2
    }

    #[kansoku::track_database_query("select", "shops")]
    fn structs(Named { bar: arg1, baz: arg2 }: Named) -> usize {
        arg1 - arg2
    }

    #[kansoku::monitor_api_endpoint]
    fn everything(
        &Outer {
            bar: Bar((arg1, arg2)),
            baz: (arg3, arg4),
            ..
        }: &Outer,
    ) -> usize {
        arg1 + arg2 + arg3 + arg4
    }

    #[kansoku::track_api_request]
    async fn async_tuples((a, b): (String, String), Foo(c, _): Foo) -> usize {
        a.len() + b.len() + c
    }

    #[kansoku::track_database_query("select", "shops")]
    fn slice_pattern([first, .., last]: [u8; 4]) -> u8 {
        first + last
    }

    #[kansoku::monitor_api_endpoint]
    fn at_binding(all @ (a, b): (u8, u8)) -> (u8, u8, u8) {
        (all.0, a, b)
    }

    #[kansoku::track_api_request]
    fn or_pattern((Ok(x) | Err(x)): Result<u8, u8>) -> u8 {
        x
    }

    #[kansoku::track_database_query("select", "shops")]
    async fn async_or_pattern((Ok(x) | Err(x)): Result<String, String>) -> String {
        x
    }

    #[kansoku::monitor_api_endpoint]
    fn ref_binding(ref text: String, ref mut count: usize) -> usize {
        *count += text.len();
        *count
    }

    #[kansoku::track_api_request]
    async fn async_ref_binding(ref text: String) -> usize {
        text.len()
    }

    #[kansoku::track_database_query("select", "shops")]
    fn mut_args(mut v: Vec<u8>, mut n: u8) -> Vec<u8> {
        n += 1;
        v.push(n);
        v
    }

    #[kansoku::monitor_api_endpoint]
    async fn async_mut_args(mut v: Vec<u8>) -> Vec<u8> {
        v.push(1);
        tokio::task::yield_now().await;
        v
    }

    pub async fn run() {
        assert_eq!(tuples((1, 2)), 3);
        assert_eq!(nested_tuples(((1, 2), (3, 4))), 10);
        assert_eq!(refs(&1), 1);
        assert_eq!(tuple_struct(Foo(2, 3)), 6);
        assert_eq!(structs(Named { bar: 3, baz: 1 }), 2);
        let outer = Outer {
            bar: Bar((1, 2)),
            baz: (3, 4),
            qux: NoDebug,
        };
        let _ = outer.qux;
        assert_eq!(everything(&outer), 10);
        assert_eq!(async_tuples(("a".into(), "bc".into()), Foo(3, 0)).await, 6);
        assert_eq!(slice_pattern([1, 2, 3, 4]), 5);
        assert_eq!(at_binding((1, 2)), (1, 1, 2));
        assert_eq!(or_pattern(Err(3)), 3);
        assert_eq!(async_or_pattern(Ok("x".into())).await, "x");
        assert_eq!(ref_binding("abc".into(), 1), 4);
        assert_eq!(async_ref_binding("abcd".into()).await, 4);
        assert_eq!(mut_args(vec![0], 1), vec![0, 2]);
        assert_eq!(async_mut_args(vec![0]).await, vec![0, 1]);
    }
}

mod t14 {
    // the body's glob import shadows the name of the return type (tracing's ui/pass/type_shadowing)
    type Foo = ();

    pub enum Bar {
        Foo,
    }

    #[kansoku::track_api_request]
    fn this_is_fine() -> Foo {
        #[allow(unused_imports)]
        use Bar::*;
    }

    #[kansoku::track_database_query("select", "shops")]
    async fn this_is_fine_async() -> Foo {
        #[allow(unused_imports)]
        use Bar::*;
    }

    type Count = u8;

    mod shadow {
        pub struct Count;
    }

    #[kansoku::monitor_api_endpoint]
    fn shadowed_output() -> std::pin::Pin<Box<dyn std::future::Future<Output = Count> + Send>> {
        use shadow::Count;
        let _ = Count;
        Box::pin(async move { 3 })
    }

    #[kansoku::track_api_request]
    fn shadowed_impl_output() -> impl std::future::Future<Output = Count> {
        use shadow::Count;
        let _ = Count;
        async move { 4 }
    }

    #[kansoku::track_database_query("select", "shops")]
    fn shadowed_result() -> Result<Count, String> {
        #[allow(unused_imports)]
        use std::fmt::Result;
        Ok(1)
    }

    pub async fn run() {
        this_is_fine();
        this_is_fine_async().await;
        assert_eq!(shadowed_output().await, 3);
        assert_eq!(shadowed_impl_output().await, 4);
        assert_eq!(shadowed_result(), Ok(1));
    }
}

mod t15 {
    // the other `#[instrument]` arguments of tracing's tests: follows_from, fields, name,
    // target, parent, level, skip, skip_all
    use tracing::{Id, Level, Span};

    #[kansoku::track_api_request]
    #[tracing::instrument(follows_from = causes.clone(), skip(causes))]
    fn follows(causes: [Option<Id>; 1]) -> usize {
        causes.len()
    }

    #[tracing::instrument(follows_from = Vec::<Option<Id>>::new())]
    #[kansoku::track_database_query("select", "shops")]
    async fn follows_async(n: usize) -> usize {
        n
    }

    #[kansoku::monitor_api_endpoint]
    #[tracing::instrument(fields(foo = "bar", dsa = true, num = 1))]
    fn fields() -> u8 {
        1
    }

    #[tracing::instrument(fields(len = s.len(), s.is_empty = s.is_empty()))]
    #[kansoku::track_api_request]
    fn fields_from_args(s: &str) -> usize {
        s.len()
    }

    #[kansoku::track_database_query("select", "shops")]
    #[tracing::instrument(fields(empty = tracing::field::Empty))]
    fn records_later(value: u8) -> u8 {
        Span::current().record("empty", value);
        value
    }

    #[kansoku::monitor_api_endpoint]
    #[tracing::instrument(name = "my_name")]
    fn named() -> u8 {
        2
    }

    #[kansoku::track_api_request]
    #[tracing::instrument(target = "my_target", level = "debug")]
    fn target_level() -> u8 {
        3
    }

    #[tracing::instrument(level = Level::WARN)]
    #[kansoku::track_database_query("select", "shops")]
    fn level_const() -> u8 {
        4
    }

    #[kansoku::monitor_api_endpoint]
    #[tracing::instrument(parent = parent, skip(parent))]
    fn with_parent(parent: &Span, x: u8) -> u8 {
        x
    }

    #[tracing::instrument(parent = None)]
    #[kansoku::track_api_request]
    async fn root_async(x: u8) -> u8 {
        x
    }

    #[kansoku::track_database_query("select", "shops")]
    #[tracing::instrument(skip_all)]
    fn skip_all(mut a: Vec<u8>, _b: super::Loud) -> usize {
        a.push(1);
        a.len()
    }

    pub async fn run() {
        assert_eq!(follows([None]), 1);
        assert_eq!(follows_async(2).await, 2);
        assert_eq!(fields(), 1);
        assert_eq!(fields_from_args("ab"), 2);
        assert_eq!(records_later(5), 5);
        assert_eq!(named(), 2);
        assert_eq!(target_level(), 3);
        assert_eq!(level_const(), 4);
        assert_eq!(with_parent(&Span::none(), 5), 5);
        assert_eq!(root_async(6).await, 6);
        assert_eq!(skip_all(vec![], super::Loud("skip_all")), 1);
        assert_eq!(super::take_log(), ["skip_all"]);
    }
}

mod t16 {
    // lifetimes: explicit, elided, returning references to arguments
    #[kansoku::track_api_request]
    fn longest<'a>(a: &'a str, b: &'a str) -> &'a str {
        if a.len() >= b.len() {
            a
        } else {
            b
        }
    }

    #[kansoku::track_database_query("select", "shops")]
    fn first_word(s: &str) -> &str {
        s.split(' ').next().unwrap_or("")
    }

    #[kansoku::monitor_api_endpoint]
    fn first_mut(v: &mut [u8]) -> Option<&mut u8> {
        v.first_mut()
    }

    pub struct Person {
        nickname: Option<String>,
        name: String,
    }

    impl Person {
        // `n: &String` coerces to the declared `&str`
        #[kansoku::track_api_request]
        fn display_name(&self) -> &str {
            if let Some(n) = &self.nickname {
                return n;
            }
            "anonymous"
        }

        #[kansoku::track_database_query("select", "shops")]
        fn name_mut(&mut self) -> &mut String {
            &mut self.name
        }

        #[kansoku::monitor_api_endpoint]
        async fn name_async(&self) -> &str {
            if let Some(n) = &self.nickname {
                return n;
            }
            &self.name
        }

        #[kansoku::track_api_request]
        async fn name_mut_async(&mut self) -> &mut String {
            &mut self.name
        }
    }

    pub struct Parser<'a> {
        rest: &'a str,
    }

    impl<'a> Parser<'a> {
        #[kansoku::track_database_query("select", "shops")]
        fn next_token(&mut self) -> Option<&'a str> {
            let (head, tail) = self.rest.split_once(' ')?;
            self.rest = tail;
            Some(head)
        }

        #[kansoku::monitor_api_endpoint]
        async fn next_async(&mut self) -> Option<&'a str> {
            let (head, tail) = self.rest.split_once(' ')?;
            self.rest = tail;
            Some(head)
        }
    }

    #[kansoku::track_api_request]
    fn cow(s: &str) -> std::borrow::Cow<'_, str> {
        if s.contains(' ') {
            s.replace(' ', "_").into()
        } else {
            s.into()
        }
    }

    pub struct Wrapper<'a>(&'a str);

    #[kansoku::track_database_query("select", "shops")]
    async fn elided_struct(w: Wrapper<'_>) -> &str {
        w.0
    }

    #[kansoku::monitor_api_endpoint]
    fn hrtb<F>(f: F) -> usize
    where
        F: for<'x> Fn(&'x str) -> &'x str,
    {
        f("hello").len()
    }

    #[kansoku::track_api_request]
    async fn async_first(v: &[String]) -> &str {
        &v[0]
    }

    #[kansoku::track_database_query("select", "shops")]
    fn static_str() -> &'static str {
        "static"
    }

    pub async fn run() {
        assert_eq!(longest("ab", "abc"), "abc");
        assert_eq!(first_word("hello world"), "hello");
        let mut v = [1, 2];
        *first_mut(&mut v).unwrap() = 5;
        assert_eq!(v, [5, 2]);
        let mut p = Person {
            nickname: Some("nick".into()),
            name: "name".into(),
        };
        assert_eq!(p.display_name(), "nick");
        p.name_mut().push('!');
        assert_eq!(p.name_async().await, "nick");
        p.name_mut_async().await.push('?');
        assert_eq!(p.name, "name!?");
        let mut parser = Parser { rest: "a b c" };
        assert_eq!(parser.next_token(), Some("a"));
        assert_eq!(parser.next_async().await, Some("b"));
        assert_eq!(cow("a b"), "a_b");
        assert_eq!(elided_struct(Wrapper("w")).await, "w");
        assert_eq!(hrtb(|s| &s[1..]), 4);
        assert_eq!(async_first(&["x".to_owned()]).await, "x");
        assert_eq!(static_str(), "static");
    }
}

mod t17 {
    // early returns, `?` on `Option` and `Result`, labelled blocks and loops in the body
    #[kansoku::track_api_request]
    fn option_question(v: &[u8]) -> Option<u8> {
        let x = v.first()?;
        Some(*x + 1)
    }

    #[kansoku::track_database_query("select", "shops")]
    async fn async_option_question(v: Vec<u8>) -> Option<u8> {
        tokio::task::yield_now().await;
        let x = v.last()?;
        Some(*x)
    }

    #[kansoku::monitor_api_endpoint]
    fn early_unit(flag: bool) {
        if flag {
            return;
        }
        super::log("early_unit");
    }

    #[kansoku::track_api_request]
    fn loops(limit: u32) -> u32 {
        let mut i = 0;
        let found = loop {
            i += 1;
            if i * i > limit {
                break i;
            }
        };
        'outer: for a in 0..10 {
            for b in 0..10 {
                if a * b == 12 {
                    break 'outer;
                }
                if a + b > 15 {
                    return 0;
                }
            }
        }
        found
    }

    #[kansoku::track_database_query("select", "shops")]
    fn labelled_block(x: u8) -> u8 {
        'done: {
            if x > 3 {
                break 'done 3;
            }
            x
        }
    }

    #[kansoku::monitor_api_endpoint]
    fn return_in_closure(v: &[u8]) -> u8 {
        let f = |x: u8| {
            if x > 1 {
                return 1;
            }
            0
        };
        v.iter().map(|x| f(*x)).sum()
    }

    #[kansoku::track_api_request]
    fn boxed_dyn_error(s: &str) -> Result<u8, Box<dyn std::error::Error + Send + Sync>> {
        if s.is_empty() {
            return Err("empty".into());
        }
        let n: u8 = s.parse()?;
        Ok(n)
    }

    #[derive(Debug)]
    pub struct MyErr;

    impl std::fmt::Display for MyErr {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("my error")
        }
    }

    impl std::error::Error for MyErr {}

    #[kansoku::track_database_query("select", "shops")]
    fn box_error_coercion(fail: bool) -> Result<(), Box<dyn std::error::Error>> {
        if fail {
            return Err(Box::new(MyErr));
        }
        Ok(())
    }

    #[kansoku::monitor_api_endpoint]
    async fn async_boxed_error(s: String) -> Result<u8, Box<dyn std::error::Error + Send + Sync>> {
        tokio::task::yield_now().await;
        if s.is_empty() {
            return Err(Box::new(MyErr));
        }
        Ok(s.parse::<u8>()?)
    }

    #[kansoku::track_api_request]
    fn io_result(fail: bool) -> std::io::Result<u8> {
        if fail {
            return Err(std::io::Error::other("x"));
        }
        Ok(1)
    }

    #[kansoku::track_database_query("select", "shops")]
    fn never_err(x: u8) -> Result<u8, std::convert::Infallible> {
        Ok(x)
    }

    pub async fn run() {
        assert_eq!(option_question(&[1]), Some(2));
        assert_eq!(option_question(&[]), None);
        assert_eq!(async_option_question(vec![]).await, None);
        early_unit(true);
        early_unit(false);
        assert_eq!(super::take_log(), ["early_unit"]);
        assert_eq!(loops(10), 4);
        assert_eq!(labelled_block(9), 3);
        assert_eq!(return_in_closure(&[0, 2, 3]), 2);
        assert_eq!(boxed_dyn_error("7").unwrap(), 7);
        assert!(boxed_dyn_error("").is_err());
        assert!(boxed_dyn_error("x").is_err());
        assert!(box_error_coercion(true).is_err());
        assert!(async_boxed_error(String::new()).await.is_err());
        assert_eq!(async_boxed_error("3".into()).await.unwrap(), 3);
        assert!(io_result(true).is_err());
        assert_eq!(never_err(1), Ok(1));
    }
}

mod t18 {
    // non-'static error types, generic errors, references in errors
    #[derive(Debug, PartialEq)]
    pub struct ParseErr<'a>(&'a str);

    #[kansoku::track_api_request]
    fn parse(s: &str) -> Result<u8, ParseErr<'_>> {
        s.parse().map_err(|_| ParseErr(s))
    }

    #[kansoku::track_database_query("select", "shops")]
    fn first_err<'a>(errors: &'a [ParseErr<'static>]) -> Result<(), &'a ParseErr<'static>> {
        match errors.first() {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }

    #[kansoku::monitor_api_endpoint]
    fn generic_error<E: std::error::Error>(e: Option<E>) -> Result<(), E> {
        match e {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }

    #[kansoku::track_api_request]
    async fn async_parse(s: &str) -> Result<u8, ParseErr<'_>> {
        s.parse().map_err(|_| ParseErr(s))
    }

    #[kansoku::track_database_query("select", "shops")]
    async fn async_generic_error<E: std::error::Error + Send>(e: Option<E>) -> Result<(), E> {
        match e {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }

    #[kansoku::monitor_api_endpoint]
    fn str_error<'a>(s: &'a str) -> Result<(), &'a str> {
        Err(s)
    }

    pub async fn run() {
        assert_eq!(parse("x"), Err(ParseErr("x")));
        assert_eq!(first_err(&[ParseErr("y")]), Err(&ParseErr("y")));
        assert!(generic_error(Some(std::fmt::Error)).is_err());
        assert_eq!(async_parse("5").await, Ok(5));
        assert!(async_generic_error::<std::fmt::Error>(None).await.is_ok());
        assert_eq!(str_error("s"), Err("s"));
    }
}

mod t19 {
    use std::fmt::Display;

    pub trait Ret {
        fn value(&self) -> u8;
    }

    pub struct Thing;

    impl Ret for Thing {
        fn value(&self) -> u8 {
            9
        }
    }

    // coercions to `dyn` types at the return
    #[kansoku::track_api_request]
    fn boxed_display(flag: bool) -> Box<dyn Display> {
        if flag {
            Box::new(1)
        } else {
            Box::new("one")
        }
    }

    #[kansoku::track_database_query("select", "shops")]
    fn static_dyn() -> Option<&'static dyn Ret> {
        Some(&Thing)
    }

    #[kansoku::monitor_api_endpoint]
    async fn async_static_dyn() -> &'static dyn Ret {
        return &Thing;
    }

    #[kansoku::track_api_request]
    async fn async_boxed_display(flag: bool) -> Box<dyn Display + Send> {
        if flag {
            return Box::new(2);
        }
        Box::new("two")
    }

    #[kansoku::track_database_query("select", "shops")]
    fn boxed_fn(k: u8) -> Box<dyn Fn(u8) -> u8> {
        Box::new(move |x| x * k)
    }

    #[kansoku::monitor_api_endpoint]
    fn boxed_iter<'a>(v: &'a [u8]) -> Box<dyn Iterator<Item = &'a u8> + 'a> {
        Box::new(v.iter())
    }

    #[kansoku::track_api_request]
    fn arc_dyn() -> std::sync::Arc<dyn Ret + Send + Sync> {
        std::sync::Arc::new(Thing)
    }

    #[kansoku::track_database_query("select", "shops")]
    fn slice_coercion(v: &Vec<u8>) -> &[u8] {
        v
    }

    #[kansoku::monitor_api_endpoint]
    fn any_downcast(value: &dyn std::any::Any) -> Option<u8> {
        value.downcast_ref::<u8>().copied()
    }

    pub async fn run() {
        assert_eq!(boxed_display(true).to_string(), "1");
        assert_eq!(static_dyn().unwrap().value(), 9);
        assert_eq!(async_static_dyn().await.value(), 9);
        assert_eq!(async_boxed_display(false).await.to_string(), "two");
        assert_eq!(boxed_fn(2)(3), 6);
        assert_eq!(boxed_iter(&[1, 2]).count(), 2);
        assert_eq!(arc_dyn().value(), 9);
        assert_eq!(slice_coercion(&vec![1]), &[1]);
        assert_eq!(any_downcast(&7u8), Some(7));
    }
}

mod t20 {
    use std::pin::Pin;

    // `Box::pin` tails that are not futures
    pub struct Node {
        pub v: u8,
    }

    impl Node {
        #[kansoku::track_api_request]
        fn pinned(v: u8) -> Pin<Box<Self>> {
            Box::pin(Node { v })
        }
    }

    #[kansoku::track_database_query("select", "shops")]
    fn pinned_iter() -> Pin<Box<dyn Iterator<Item = u8> + Unpin>> {
        Box::pin(0..3)
    }

    #[kansoku::monitor_api_endpoint]
    fn pinned_value(v: u8) -> Pin<Box<u8>> {
        Box::pin(v)
    }

    pub fn run() {
        assert_eq!(Node::pinned(3).v, 3);
        assert_eq!(Pin::into_inner(pinned_iter()).count(), 3);
        assert_eq!(*pinned_value(4), 4);
    }
}

mod t21 {
    // diverging functions
    #[kansoku::track_api_request]
    fn panics(msg: &str) -> ! {
        panic!("{msg}")
    }

    #[kansoku::track_database_query("select", "shops")]
    fn loops_then_panics(n: u8) -> ! {
        let mut i = 0;
        loop {
            i += 1;
            if i > n {
                panic!("done");
            }
        }
    }

    #[kansoku::monitor_api_endpoint]
    async fn async_never() -> ! {
        tokio::task::yield_now().await;
        panic!("async never")
    }

    #[kansoku::track_api_request]
    fn never_in_result(fail: bool) -> Result<u8, std::convert::Infallible> {
        if fail {
            unreachable!()
        }
        Ok(1)
    }

    #[kansoku::track_database_query("select", "shops")]
    fn exits() -> ! {
        std::process::exit(0)
    }

    pub async fn run() {
        let hook = std::panic::take_hook();
        std::panic::set_hook(Box::new(|_| {}));
        assert!(std::panic::catch_unwind(|| panics("boom")).is_err());
        assert!(std::panic::catch_unwind(|| loops_then_panics(3)).is_err());
        assert!(tokio::spawn(async_never()).await.is_err());
        std::panic::set_hook(hook);
        assert_eq!(never_in_result(false), Ok(1));
        let _ = exits as fn() -> !;
    }
}

mod t22 {
    // unsafe, extern "C", const generics, #[no_mangle]
    #[kansoku::track_api_request]
    unsafe fn read(ptr: *const u8) -> u8 {
        // SAFETY: the caller passes a valid pointer
        unsafe { *ptr }
    }

    #[kansoku::track_database_query("select", "shops")]
    #[allow(unsafe_op_in_unsafe_fn)]
    unsafe fn read_without_block(ptr: *const u8) -> u8 {
        *ptr
    }

    #[kansoku::monitor_api_endpoint]
    extern "C" fn add(a: i32, b: i32) -> i32 {
        a + b
    }

    #[kansoku::track_api_request]
    unsafe extern "C" fn sub(a: i32, b: i32) -> i32 {
        a - b
    }

    #[kansoku::track_database_query("select", "shops")]
    #[no_mangle]
    pub extern "C" fn kansoku_corpus_mul(a: i32, b: i32) -> i32 {
        a * b
    }

    #[kansoku::monitor_api_endpoint]
    fn sum<const N: usize>(items: [u8; N]) -> u32 {
        items.iter().map(|x| u32::from(*x)).sum()
    }

    #[kansoku::track_api_request]
    fn const_bool<const FLAG: bool>() -> bool {
        FLAG
    }

    #[kansoku::track_database_query("select", "shops")]
    async fn async_const<T: Copy + Send, const N: usize>(items: [T; N]) -> usize {
        items.len()
    }

    #[kansoku::monitor_api_endpoint]
    async unsafe fn async_unsafe(ptr: *const u8) -> u8 {
        // SAFETY: the caller passes a valid pointer
        unsafe { *ptr }
    }

    pub async fn run() {
        let x = 5u8;
        // SAFETY: `&x` is valid
        assert_eq!(unsafe { read(&x) }, 5);
        // SAFETY: `&x` is valid
        assert_eq!(unsafe { read_without_block(&x) }, 5);
        let f: extern "C" fn(i32, i32) -> i32 = add;
        assert_eq!(f(1, 2), 3);
        // SAFETY: no precondition
        assert_eq!(unsafe { sub(3, 1) }, 2);
        assert_eq!(kansoku_corpus_mul(2, 3), 6);
        assert_eq!(sum([1, 2, 3]), 6);
        assert!(const_bool::<true>());
        assert_eq!(async_const([1u8; 4]).await, 4);
        // SAFETY: `&x` is valid
        assert_eq!(unsafe { async_unsafe(&x).await }, 5);
    }
}

mod t23 {
    // closures, async blocks, nested items and macros in bodies
    #[kansoku::track_api_request]
    fn closures(v: Vec<u8>) -> Vec<u8> {
        let double = |x: u8| x * 2;
        let mut total = 0;
        let mut add = |x: u8| total += x;
        v.iter().for_each(|x| add(*x));
        let mut out: Vec<u8> = v.into_iter().map(double).collect();
        out.push(total);
        out
    }

    #[kansoku::track_database_query("select", "shops")]
    fn async_block_in_sync(x: u8) -> u8 {
        let fut = async move { x + 1 };
        drop(fut);
        x
    }

    #[kansoku::monitor_api_endpoint]
    async fn async_block_in_async(x: u8) -> u8 {
        let fut = async move { x + 1 };
        let other = async { 1 };
        fut.await + other.await
    }

    #[kansoku::track_api_request]
    fn nested_items(x: u8) -> u8 {
        struct Local(u8);
        impl Local {
            fn get(&self) -> u8 {
                self.0
            }
        }
        fn helper(x: u8) -> u8 {
            // a `return` in a nested fn is the nested fn's
            return x + 1;
        }
        const OFFSET: u8 = 10;
        static SEEN: std::sync::atomic::AtomicU8 = std::sync::atomic::AtomicU8::new(0);
        SEEN.store(x, std::sync::atomic::Ordering::Relaxed);
        Local(helper(x)).get() + OFFSET
    }

    macro_rules! bail_if {
        ($cond:expr, $value:expr) => {
            if $cond {
                return $value;
            }
        };
    }

    #[kansoku::track_database_query("select", "shops")]
    fn macros(v: &[u8]) -> String {
        bail_if!(v.is_empty(), String::from("empty"));
        let list = vec![v.len()];
        assert!(matches!(list.as_slice(), [1, ..]));
        macro_rules! local_macro {
            ($e:expr) => {
                format!("<{}>", $e)
            };
        }
        local_macro!(list[0])
    }

    #[kansoku::monitor_api_endpoint]
    async fn macros_async(v: Vec<u8>) -> String {
        bail_if!(v.is_empty(), String::from("empty"));
        tokio::task::yield_now().await;
        format!("{}", v.len())
    }

    #[kansoku::track_api_request]
    fn uses_self_in_closure_macro() -> u8 {
        let cell = std::cell::Cell::new(1);
        let bump = || cell.set(cell.get() + 1);
        bump();
        bump();
        cell.get()
    }

    #[kansoku::track_database_query("select", "shops")]
    async fn select_in_body(x: u8) -> u8 {
        tokio::select! {
            v = async { x } => v,
        }
    }

    #[kansoku::monitor_api_endpoint]
    async fn join_in_body(x: u8) -> u8 {
        let (a, b) = tokio::join!(async { x }, async { x + 1 });
        a + b
    }

    pub async fn run() {
        assert_eq!(closures(vec![1, 2]), vec![2, 4, 3]);
        assert_eq!(async_block_in_sync(1), 1);
        assert_eq!(async_block_in_async(1).await, 3);
        assert_eq!(nested_items(1), 12);
        assert_eq!(macros(&[]), "empty");
        assert_eq!(macros(&[1]), "<1>");
        assert_eq!(macros_async(vec![1, 2]).await, "2");
        assert_eq!(uses_self_in_closure_macro(), 3);
        assert_eq!(select_in_body(2).await, 2);
        assert_eq!(join_in_body(2).await, 5);
    }
}

mod t24 {
    // other attributes on the function, in both orders
    #[kansoku::track_api_request]
    #[must_use]
    fn must_use() -> u8 {
        1
    }

    #[inline]
    #[kansoku::track_database_query("select", "shops")]
    fn inlined(x: u8) -> u8 {
        x
    }

    #[kansoku::monitor_api_endpoint]
    #[inline(always)]
    async fn inlined_async(x: u8) -> u8 {
        x
    }

    #[cold]
    #[kansoku::track_api_request]
    fn cold() -> u8 {
        2
    }

    /// Documented.
    #[kansoku::track_database_query("select", "shops")]
    #[doc(alias = "other")]
    pub fn documented() -> u8 {
        3
    }

    #[kansoku::monitor_api_endpoint]
    #[allow(clippy::too_many_arguments)]
    fn many(a: u8, b: u8, c: u8, d: u8, e: u8, f: u8, g: u8, h: u8) -> u8 {
        a + b + c + d + e + f + g + h
    }

    #[kansoku::track_api_request]
    #[deprecated = "use something else"]
    fn deprecated() -> u8 {
        4
    }

    #[cfg_attr(all(), inline)]
    #[kansoku::track_database_query("select", "shops")]
    fn cfg_attr_inline() -> u8 {
        5
    }

    #[kansoku::monitor_api_endpoint]
    fn cfg_args(#[cfg(any())] gone: u8, #[cfg(all())] kept: u8) -> u8 {
        kept
    }

    #[kansoku::track_database_query("select", "shops")]
    fn cfg_statements() -> u8 {
        let mut x = 1;
        #[cfg(any())]
        {
            x += 100;
        }
        #[cfg(all())]
        {
            x += 1;
        }
        #[cfg(any())]
        return 0;
        x
    }

    #[kansoku::monitor_api_endpoint]
    fn r#match(r#in: u8) -> u8 {
        r#in
    }

    #[allow(non_snake_case)]
    #[kansoku::track_api_request]
    fn CamelCase() -> u8 {
        6
    }

    #[kansoku::track_database_query("select", "shops")]
    pub(crate) async fn pub_crate() -> u8 {
        7
    }

    pub async fn run() {
        let _ = must_use();
        assert_eq!(inlined(1), 1);
        assert_eq!(inlined_async(1).await, 1);
        assert_eq!(cold(), 2);
        assert_eq!(documented(), 3);
        assert_eq!(many(1, 1, 1, 1, 1, 1, 1, 1), 8);
        #[allow(deprecated)]
        let d = deprecated();
        assert_eq!(d, 4);
        assert_eq!(cfg_attr_inline(), 5);
        assert_eq!(cfg_args(5), 5);
        assert_eq!(cfg_statements(), 2);
        assert_eq!(r#match(3), 3);
        assert_eq!(CamelCase(), 6);
        assert_eq!(pub_crate().await, 7);
    }
}

mod t25 {
    use std::panic::Location;

    // `#[track_caller]`, above and below the attribute, and behind `cfg_attr`
    #[kansoku::track_api_request]
    #[track_caller]
    fn below() -> &'static Location<'static> {
        Location::caller()
    }

    #[track_caller]
    #[kansoku::track_database_query("select", "shops")]
    fn above() -> &'static Location<'static> {
        Location::caller()
    }

    #[kansoku::monitor_api_endpoint]
    #[cfg_attr(all(), track_caller)]
    fn behind_cfg_attr() -> &'static Location<'static> {
        Location::caller()
    }

    #[kansoku::track_api_request]
    #[track_caller]
    fn with_question(s: &str) -> Result<u32, std::num::ParseIntError> {
        let n: u32 = s.parse()?;
        if n == 0 {
            return Ok(Location::caller().line());
        }
        Ok(n)
    }

    #[kansoku::track_database_query("select", "shops")]
    #[track_caller]
    fn generic_impl<T: Into<u32>>(x: T) -> impl Fn() -> u32 {
        let x = x.into();
        move || x
    }

    pub fn run() {
        let line = line!();
        assert_eq!(below().line(), line + 1);
        assert_eq!(above().line(), line + 2);
        assert_eq!(behind_cfg_attr().line(), line + 3);
        assert_eq!(with_question("0").unwrap(), line + 4);
        assert!(with_question("x").is_err());
        assert_eq!(generic_impl(3u8)(), 3);
    }
}

mod t26 {
    use super::{take_log, Loud};

    // drop order, compared with a plain twin of each function
    fn plain_sync(a: Loud, _b: Loud, _: Loud) -> u8 {
        let _local = Loud("local");
        drop(a);
        1
    }

    #[kansoku::track_api_request]
    fn annotated_sync(a: Loud, _b: Loud, _: Loud) -> u8 {
        let _local = Loud("local");
        drop(a);
        1
    }

    async fn plain_async(_a: Loud, _b: Loud, (_c, _d): (Loud, Loud)) -> u8 {
        let _local = Loud("local");
        tokio::task::yield_now().await;
        1
    }

    #[kansoku::track_database_query("select", "shops")]
    async fn annotated_async(_a: Loud, _b: Loud, (_c, _d): (Loud, Loud)) -> u8 {
        let _local = Loud("local");
        tokio::task::yield_now().await;
        1
    }

    pub struct Holder(Loud);

    impl Holder {
        async fn plain_method(self, _x: Loud) -> u8 {
            log("body");
            2
        }

        #[kansoku::monitor_api_endpoint]
        async fn annotated_method(self, _x: Loud) -> u8 {
            log("body");
            2
        }
    }

    fn log(s: &'static str) {
        super::log(s);
    }

    fn args() -> (Loud, Loud, Loud) {
        (Loud("a"), Loud("b"), Loud("_"))
    }

    pub async fn run() {
        let (a, b, c) = args();
        assert_eq!(plain_sync(a, b, c), 1);
        let plain = take_log();
        let (a, b, c) = args();
        assert_eq!(annotated_sync(a, b, c), 1);
        assert_eq!(take_log(), plain);

        let f = plain_async(Loud("a"), Loud("_"), (Loud("c"), Loud("d")));
        assert!(take_log().is_empty());
        assert_eq!(f.await, 1);
        let plain = take_log();
        let f = annotated_async(Loud("a"), Loud("_"), (Loud("c"), Loud("d")));
        assert!(take_log().is_empty());
        assert_eq!(f.await, 1);
        assert_eq!(take_log(), plain);

        assert_eq!(Holder(Loud("self")).plain_method(Loud("x")).await, 2);
        let plain = take_log();
        assert_eq!(Holder(Loud("self")).annotated_method(Loud("x")).await, 2);
        assert_eq!(take_log(), plain);

        // dropped before being polled
        drop(plain_async(Loud("a"), Loud("_"), (Loud("c"), Loud("d"))));
        let plain = take_log();
        drop(annotated_async(Loud("a"), Loud("_"), (Loud("c"), Loud("d"))));
        assert_eq!(take_log(), plain);
    }
}

mod t27 {
    use std::fmt;
    use std::future::Future;

    // methods of trait impls and trait default methods (sync, RPITIT, native async fn in traits)
    pub trait Named {
        fn name(&self) -> String;

        #[kansoku::track_api_request]
        fn greet(&self) -> String {
            format!("hello {}", self.name())
        }

        #[kansoku::track_database_query("select", "shops")]
        fn consume(self) -> String
        where
            Self: Sized,
        {
            self.name()
        }

        fn fetch(&self) -> impl Future<Output = usize> + Send;

        #[kansoku::monitor_api_endpoint]
        fn fetch_default(&self) -> impl Future<Output = usize> + Send
        where
            Self: Sync,
        {
            async move { self.name().len() }
        }

        async fn native(&self) -> usize;

        #[kansoku::track_api_request]
        async fn native_default(&self) -> usize {
            self.native().await + 1
        }
    }

    impl Named for str {
        #[kansoku::track_database_query("select", "shops")]
        fn name(&self) -> String {
            self.to_owned()
        }

        #[kansoku::monitor_api_endpoint]
        fn fetch(&self) -> impl Future<Output = usize> + Send {
            let len = self.len();
            async move { len }
        }

        #[kansoku::track_api_request]
        async fn native(&self) -> usize {
            self.len()
        }
    }

    pub struct Shop(String);

    impl Named for Shop {
        #[kansoku::track_database_query("select", "shops")]
        fn name(&self) -> String {
            self.0.clone()
        }

        #[kansoku::monitor_api_endpoint]
        fn fetch(&self) -> impl Future<Output = usize> + Send {
            async move { self.0.len() }
        }

        #[kansoku::track_api_request]
        async fn native(&self) -> usize {
            tokio::task::yield_now().await;
            self.0.len()
        }
    }

    impl fmt::Display for Shop {
        #[kansoku::track_database_query("select", "shops")]
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            write!(f, "shop ")?;
            f.write_str(&self.0)
        }
    }

    pub struct Counter(u8);

    impl Iterator for Counter {
        type Item = u8;

        #[kansoku::monitor_api_endpoint]
        fn next(&mut self) -> Option<Self::Item> {
            if self.0 == 0 {
                return None;
            }
            self.0 -= 1;
            Some(self.0)
        }
    }

    impl Drop for Counter {
        #[kansoku::track_api_request]
        fn drop(&mut self) {
            super::log("counter dropped");
        }
    }

    pub struct Ready(Option<u8>);

    impl Future for Ready {
        type Output = u8;

        #[kansoku::track_database_query("select", "shops")]
        fn poll(
            mut self: std::pin::Pin<&mut Self>,
            _cx: &mut std::task::Context<'_>,
        ) -> std::task::Poll<Self::Output> {
            std::task::Poll::Ready(self.0.take().unwrap_or(0))
        }
    }

    pub trait Lend {
        type Item<'a>
        where
            Self: 'a;

        fn lend(&mut self) -> Self::Item<'_>;
    }

    impl Lend for Vec<u8> {
        type Item<'a> = &'a mut [u8];

        #[kansoku::monitor_api_endpoint]
        fn lend(&mut self) -> Self::Item<'_> {
            &mut self[..]
        }
    }

    pub trait Shape {
        fn area(&self) -> u32;
    }

    impl Shape for u32 {
        fn area(&self) -> u32 {
            *self
        }
    }

    impl dyn Shape {
        #[kansoku::track_api_request]
        fn describe(&self) -> String {
            format!("area {}", self.area())
        }
    }

    impl<T: Clone> Named for Vec<T> {
        #[kansoku::track_database_query("select", "shops")]
        fn name(&self) -> String {
            format!("{} items", self.len())
        }

        #[kansoku::monitor_api_endpoint]
        fn fetch(&self) -> impl Future<Output = usize> + Send {
            std::future::ready(self.len())
        }

        #[kansoku::track_api_request]
        async fn native(&self) -> usize {
            self.len()
        }
    }

    pub async fn run() {
        assert_eq!("x".greet(), "hello x");
        assert_eq!("abc".fetch().await, 3);
        assert_eq!("abc".native_default().await, 4);
        let shop = Shop("s".into());
        assert_eq!(shop.fetch().await, 1);
        assert_eq!(shop.fetch_default().await, 1);
        assert_eq!(shop.native().await, 1);
        assert_eq!(shop.to_string(), "shop s");
        assert_eq!(shop.consume(), "s");
        assert_eq!(Counter(3).collect::<Vec<_>>(), [2, 1, 0]);
        assert_eq!(super::take_log(), ["counter dropped"]);
        assert_eq!(Ready(Some(4)).await, 4);
        let mut v = vec![1, 2];
        v.lend()[0] = 9;
        assert_eq!(v, [9, 2]);
        assert_eq!((&5u32 as &dyn Shape).describe(), "area 5");
        assert_eq!(vec![1u8].greet(), "hello 1 items");
        assert_eq!(vec![1u8].fetch().await, 1);
    }
}

mod t28 {
    // generic impls, associated consts and types, where clauses on impls and methods
    use std::fmt::Debug;
    use std::marker::PhantomData;

    pub struct Repo<T, const N: usize> {
        items: Vec<T>,
    }

    impl<T: Clone + Debug + Send + Sync, const N: usize> Repo<T, N> {
        const LIMIT: usize = N;

        #[kansoku::track_api_request]
        fn get(&self, index: usize) -> Option<&T> {
            if index >= Self::LIMIT {
                return None;
            }
            self.items.get(index)
        }

        #[kansoku::track_database_query("select", "shops")]
        fn map<U, F>(&self, f: F) -> Repo<U, N>
        where
            F: Fn(&T) -> U,
        {
            Repo {
                items: self.items.iter().map(f).collect(),
            }
        }

        #[kansoku::monitor_api_endpoint]
        async fn get_async(&self, index: usize) -> Option<T> {
            tokio::task::yield_now().await;
            self.items.get(index).cloned()
        }

        #[kansoku::track_api_request]
        async fn generic_async<U: From<u8> + Send>(&mut self, value: T) -> U {
            self.items.push(value);
            U::from(1)
        }
    }

    pub struct Typed<T>(PhantomData<T>);

    impl<T> Typed<T>
    where
        T: Default + Debug,
    {
        #[kansoku::track_database_query("select", "shops")]
        fn make() -> T {
            T::default()
        }

        #[kansoku::monitor_api_endpoint]
        async fn make_async() -> T
        where
            T: Send,
        {
            T::default()
        }
    }

    pub async fn run() {
        let mut repo: Repo<u8, 2> = Repo { items: vec![1, 2, 3] };
        assert_eq!(repo.get(1), Some(&2));
        assert_eq!(repo.get(2), None);
        assert_eq!(repo.map(|x| u32::from(*x) * 2).items, [2, 4, 6]);
        assert_eq!(repo.get_async(0).await, Some(1));
        let one: u32 = repo.generic_async(4).await;
        assert_eq!(one, 1);
        assert_eq!(Typed::<u8>::make(), 0);
        assert_eq!(Typed::<String>::make_async().await, "");
    }
}

mod t29 {
    // `Send` futures: `tokio::spawn` requires them
    use std::sync::Arc;
    use tokio::sync::Mutex;

    #[kansoku::track_api_request]
    async fn locks(shared: Arc<Mutex<Vec<u8>>>, value: u8) -> usize {
        let mut guard = shared.lock().await;
        guard.push(value);
        tokio::task::yield_now().await;
        guard.len()
    }

    #[kansoku::track_database_query("select", "shops")]
    async fn takes_future<F: std::future::Future<Output = u8> + Send>(f: F) -> u8 {
        f.await + 1
    }

    #[kansoku::monitor_api_endpoint]
    async fn generic_send<T: Send + Sync + std::fmt::Debug>(value: T) -> String {
        tokio::task::yield_now().await;
        format!("{value:?}")
    }

    #[kansoku::track_api_request]
    async fn non_send_dropped_before_await() -> u8 {
        {
            let rc = std::rc::Rc::new(1);
            drop(rc);
        }
        tokio::task::yield_now().await;
        2
    }

    #[kansoku::track_database_query("select", "shops")]
    async fn later() -> std::future::Ready<u8> {
        std::future::ready(1)
    }

    pub async fn run() {
        let shared = Arc::new(Mutex::new(Vec::new()));
        assert_eq!(tokio::spawn(locks(shared.clone(), 1)).await.unwrap(), 1);
        assert_eq!(tokio::spawn(takes_future(async { 1 })).await.unwrap(), 2);
        assert_eq!(tokio::spawn(generic_send(3)).await.unwrap(), "3");
        assert_eq!(non_send_dropped_before_await().await, 2);
        assert_eq!(later().await.await, 1);
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    t01::run();
    t02::run();
    t03::run();
    t04::run();
    t05::run();
    t06::run();
    t07::run();
    t08::run().await;
    t09::run().await;
    t10::run().await;
    t11::run().await;
    t12::run().await;
    t13::run().await;
    t14::run().await;
    t15::run().await;
    t16::run().await;
    t17::run().await;
    t18::run().await;
    t19::run().await;
    t20::run();
    t21::run().await;
    t22::run().await;
    t23::run().await;
    t24::run().await;
    t25::run();
    t26::run().await;
    t27::run().await;
    t28::run().await;
    t29::run().await;
}
