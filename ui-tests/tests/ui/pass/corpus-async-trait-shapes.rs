//! Function shapes re-created from the test suite of `async-trait` (its `tests/test.rs` and
//! `tests/ui/`): `#[async_trait]` traits and impls with every kind of receiver, generic and
//! lifetime-generic traits, default methods, `?Send`, `where Self: Sized`, associated types and
//! consts, macros in bodies, patterns in arguments, and stacking with `#[tracing::instrument]`.
//! Each method is annotated with one of kansoku's attributes (in the impl, or on the default
//! body in the trait) and called from `main`, which checks what it returns. Issue 7: an
//! annotated function compiles exactly when the plain one does.
#![allow(dead_code, clippy::unused_unit)]

mod a01 {
    use async_trait::async_trait;

    #[async_trait]
    pub trait Trait {
        type Assoc;

        #[kansoku::track_api_request]
        async fn selfvalue(self) -> u8
        where
            Self: Sized,
        {
            1
        }

        async fn selfref(&self) -> u8;

        async fn selfmut(&mut self) -> u8;

        async fn required() -> Self::Assoc;

        #[kansoku::track_database_query("select", "shops")]
        async fn elided_lifetime(x: &str) -> usize {
            x.len()
        }

        #[kansoku::monitor_api_endpoint]
        async fn explicit_lifetime<'a>(x: &'a str) -> &'a str {
            x
        }

        #[kansoku::track_api_request]
        async fn generic_type_param<T: Send>(x: Box<T>) -> T {
            *x
        }

        #[kansoku::track_database_query("select", "shops")]
        async fn calls(&self) -> u8 {
            self.selfref().await + Self::elided_lifetime("").await as u8
                + <Self>::elided_lifetime("ab").await as u8
        }

        #[kansoku::monitor_api_endpoint]
        async fn calls_mut(&mut self) -> u8 {
            self.selfmut().await
        }
    }

    pub struct Struct(pub u8);

    #[async_trait]
    impl Trait for Struct {
        type Assoc = u8;

        #[kansoku::track_api_request]
        async fn selfvalue(self) -> u8 {
            self.0
        }

        #[kansoku::track_database_query("select", "shops")]
        async fn selfref(&self) -> u8 {
            self.0
        }

        #[kansoku::monitor_api_endpoint]
        async fn selfmut(&mut self) -> u8 {
            self.0 += 1;
            self.0
        }

        #[kansoku::track_api_request]
        async fn required() -> Self::Assoc {
            7
        }

        #[kansoku::track_database_query("select", "shops")]
        async fn elided_lifetime(x: &str) -> usize {
            x.len() * 2
        }

        #[kansoku::monitor_api_endpoint]
        async fn explicit_lifetime<'a>(x: &'a str) -> &'a str {
            &x[1..]
        }

        #[kansoku::track_api_request]
        async fn generic_type_param<T: Send>(x: Box<T>) -> T {
            *x
        }
    }

    pub async fn run() {
        let mut s = Struct(1);
        assert_eq!(s.selfref().await, 1);
        assert_eq!(s.selfmut().await, 2);
        assert_eq!(Struct::required().await, 7);
        assert_eq!(Struct::elided_lifetime("ab").await, 4);
        assert_eq!(Struct::explicit_lifetime("ab").await, "b");
        assert_eq!(Struct::generic_type_param(Box::new("x")).await, "x");
        assert_eq!(s.calls().await, 6);
        assert_eq!(s.calls_mut().await, 3);
        assert_eq!(s.selfvalue().await, 3);
    }
}

mod a02 {
    use async_trait::async_trait;

    pub struct Struct;

    #[async_trait]
    pub trait ObjectSafe {
        async fn f(&self) -> u8;
    }

    #[async_trait]
    impl ObjectSafe for Struct {
        #[kansoku::track_database_query("select", "shops")]
        async fn f(&self) -> u8 {
            1
        }
    }

    #[async_trait]
    pub trait ObjectSafeDefault: Sync {
        #[kansoku::monitor_api_endpoint]
        async fn f(&self) -> u8 {
            2
        }
    }

    #[async_trait]
    impl ObjectSafeDefault for Struct {}

    #[async_trait(?Send)]
    pub trait NoSend {
        #[kansoku::track_api_request]
        async fn f(&self) -> u8 {
            3
        }

        async fn rc(&self, value: std::rc::Rc<u8>) -> u8;
    }

    #[async_trait(?Send)]
    impl NoSend for Struct {
        #[kansoku::track_database_query("select", "shops")]
        async fn f(&self) -> u8 {
            4
        }

        #[kansoku::monitor_api_endpoint]
        async fn rc(&self, value: std::rc::Rc<u8>) -> u8 {
            tokio::task::yield_now().await;
            *value
        }
    }

    pub async fn run() {
        let object = &Struct as &dyn ObjectSafe;
        assert_eq!(object.f().await, 1);
        let object = &Struct as &dyn ObjectSafeDefault;
        assert_eq!(object.f().await, 2);
        let object = &Struct as &dyn NoSend;
        assert_eq!(object.f().await, 4);
        assert_eq!(object.rc(std::rc::Rc::new(5)).await, 5);
        let boxed: Box<dyn ObjectSafe + Send + Sync> = Box::new(Struct);
        assert_eq!(tokio::spawn(async move { boxed.f().await }).await.unwrap(), 1);
    }
}

mod a03 {
    use async_trait::async_trait;
    use std::future::Future;

    // issue 1: a generic method in an impl for a generic type
    #[async_trait]
    pub trait Issue1 {
        async fn f<U>(&self) -> usize;
    }

    #[async_trait]
    impl<T: Sync> Issue1 for Vec<T> {
        #[kansoku::track_api_request]
        async fn f<U>(&self) -> usize {
            self.len() + size_of::<U>()
        }
    }

    // issue 2: a default method on a `Future` whose output is a future
    #[async_trait]
    pub trait Issue2: Future {
        #[kansoku::track_database_query("select", "shops")]
        async fn flatten(self) -> <Self::Output as Future>::Output
        where
            Self::Output: Future + Send,
            Self: Sized,
        {
            let nested_future = self.await;
            nested_future.await
        }
    }

    impl<F: Future> Issue2 for F {}

    // issue 9: `Self` by value as an argument
    #[async_trait]
    pub trait Issue9: Sized + Send {
        #[kansoku::monitor_api_endpoint]
        async fn f(x: Self) -> Self {
            x
        }
    }

    impl Issue9 for u8 {}

    pub async fn run() {
        assert_eq!(vec![1u8].f::<u32>().await, 5);
        assert_eq!(async { async { 3 } }.flatten().await, 3);
        assert_eq!(u8::f(4).await, 4);
    }
}

mod a04 {
    use async_trait::async_trait;
    use std::marker::PhantomData;
    use std::sync::Arc;

    // issue 11, 210: `self: Arc<Self>`
    #[async_trait]
    pub trait Issue11 {
        async fn example(self: Arc<Self>) -> usize;

        #[kansoku::track_api_request]
        async fn default_arc(self: Arc<Self>) -> usize {
            Arc::strong_count(&self)
        }
    }

    pub struct Struct;

    #[async_trait]
    impl Issue11 for Struct {
        #[kansoku::track_database_query("select", "shops")]
        async fn example(self: Arc<Self>) -> usize {
            Arc::strong_count(&self)
        }
    }

    // issue 15: an unnamed argument of a type with a trait object
    pub trait Marker {}

    #[async_trait]
    pub trait Issue15 {
        #[kansoku::monitor_api_endpoint]
        async fn myfn(&self, _: PhantomData<dyn Marker + Send>) -> u8 {
            15
        }
    }

    impl Issue15 for Struct {}

    // issue 17: a field used in a macro
    #[async_trait]
    pub trait Issue17 {
        async fn f(&self) -> String;
    }

    pub struct Named {
        pub string: String,
    }

    #[async_trait]
    impl Issue17 for Named {
        #[kansoku::track_api_request]
        async fn f(&self) -> String {
            format!("{}!", self.string)
        }
    }

    // issue 23: `mut self`
    #[async_trait]
    pub trait Issue23 {
        async fn f(self) -> u8;

        #[kansoku::track_database_query("select", "shops")]
        async fn g(mut self) -> u8
        where
            Self: Sized,
        {
            do_something(&mut self);
            23
        }
    }

    pub struct S {}

    #[async_trait]
    impl Issue23 for S {
        #[kansoku::monitor_api_endpoint]
        async fn f(mut self) -> u8 {
            do_something(&mut self);
            32
        }
    }

    fn do_something<T>(_: &mut T) {}

    pub async fn run() {
        let arc = Arc::new(Struct);
        assert_eq!(arc.clone().example().await, 2);
        assert_eq!(arc.default_arc().await, 1);
        assert_eq!(Struct.myfn(PhantomData).await, 15);
        assert_eq!(Named { string: "x".into() }.f().await, "x!");
        assert_eq!(S {}.f().await, 32);
        assert_eq!(S {}.g().await, 23);
    }
}

mod a05 {
    use async_trait::async_trait;

    // issue 28, 31: lifetime-generic traits
    pub struct Str<'a>(pub &'a str);

    #[async_trait]
    pub trait Trait1<'a> {
        async fn f(x: Str<'a>) -> &'a str;

        #[kansoku::track_api_request]
        async fn g(x: Str<'a>) -> &'a str {
            x.0
        }
    }

    #[async_trait]
    impl<'a> Trait1<'a> for str {
        #[kansoku::track_database_query("select", "shops")]
        async fn f(x: Str<'a>) -> &'a str {
            x.0
        }
    }

    #[async_trait]
    pub trait Trait2 {
        async fn f() -> u8;
    }

    #[async_trait]
    impl<'a> Trait2 for &'a () {
        #[kansoku::monitor_api_endpoint]
        async fn f() -> u8 {
            2
        }
    }

    #[async_trait]
    pub trait Trait3<'a, 'b> {
        async fn f(_: &'a &'b ()) -> u8;
        async fn g(_: &'b ()) -> u8;
        async fn h() -> u8;
    }

    #[async_trait]
    impl<'a, 'b> Trait3<'a, 'b> for () {
        #[kansoku::track_api_request]
        async fn f(_: &'a &'b ()) -> u8 {
            1
        }

        #[kansoku::track_database_query("select", "shops")]
        async fn g(_: &'b ()) -> u8 {
            2
        }

        #[kansoku::monitor_api_endpoint]
        async fn h() -> u8 {
            3
        }
    }

    pub struct Struct<'a> {
        pub name: &'a str,
    }

    #[async_trait]
    pub trait Hello<'a> {
        async fn hello(thing: Struct<'a>) -> String;

        #[kansoku::track_api_request]
        async fn hello_twice(one: Struct<'a>, two: Struct<'a>) -> String {
            let str1 = Self::hello(one).await;
            let str2 = Self::hello(two).await;
            str1 + &str2
        }
    }

    #[async_trait]
    impl<'a> Hello<'a> for () {
        #[kansoku::track_database_query("select", "shops")]
        async fn hello(thing: Struct<'a>) -> String {
            thing.name.to_owned()
        }
    }

    pub async fn run() {
        assert_eq!(<str as Trait1>::f(Str("f")).await, "f");
        assert_eq!(<str as Trait1>::g(Str("g")).await, "g");
        assert_eq!(<&() as Trait2>::f().await, 2);
        assert_eq!(<() as Trait3>::f(&&()).await, 1);
        assert_eq!(<() as Trait3>::g(&()).await, 2);
        assert_eq!(<() as Trait3>::h().await, 3);
        let s = <() as Hello>::hello_twice(Struct { name: "a" }, Struct { name: "b" }).await;
        assert_eq!(s, "ab");
    }
}

mod a06 {
    use async_trait::async_trait;

    // issue 42: returning `Self` by its name
    #[async_trait]
    pub trait Context: Sized {
        async fn from_parts() -> Self;
    }

    #[derive(Debug, PartialEq)]
    pub struct TokenContext;

    #[async_trait]
    impl Context for TokenContext {
        #[kansoku::monitor_api_endpoint]
        async fn from_parts() -> TokenContext {
            TokenContext
        }
    }

    // issue 44: where clauses on the trait
    #[async_trait]
    pub trait StaticWithWhereSelf
    where
        Box<Self>: Sized,
        Self: Sized + Send,
    {
        #[kansoku::track_api_request]
        async fn get_one() -> u8 {
            1
        }
    }

    pub struct Struct;

    #[async_trait]
    impl StaticWithWhereSelf for Struct {}

    // issue 53: `Self` constructors in static methods
    pub struct Unit;
    pub struct Tuple(pub u8);
    pub struct Fields {
        pub x: u8,
    }

    #[async_trait]
    pub trait Method {
        async fn method() -> u8;
    }

    #[async_trait]
    impl Method for Unit {
        #[kansoku::track_database_query("select", "shops")]
        async fn method() -> u8 {
            let _ = Self;
            0
        }
    }

    #[async_trait]
    impl Method for Tuple {
        #[kansoku::monitor_api_endpoint]
        async fn method() -> u8 {
            Self(1).0
        }
    }

    #[async_trait]
    impl Method for Fields {
        #[kansoku::track_api_request]
        async fn method() -> u8 {
            Self { x: 2 }.x
        }
    }

    #[async_trait]
    impl Method for std::marker::PhantomData<Fields> {
        #[kansoku::track_database_query("select", "shops")]
        async fn method() -> u8 {
            let _ = Self;
            3
        }
    }

    pub async fn run() {
        assert_eq!(TokenContext::from_parts().await, TokenContext);
        assert_eq!(Struct::get_one().await, 1);
        assert_eq!(Unit::method().await, 0);
        assert_eq!(Tuple::method().await, 1);
        assert_eq!(Fields::method().await, 2);
        assert_eq!(<std::marker::PhantomData<Fields>>::method().await, 3);
    }
}

mod a07 {
    use async_trait::async_trait;
    use tracing::instrument;

    // issue 45: stacked with `#[tracing::instrument]`, in both orders
    #[async_trait]
    pub trait Parent {
        async fn foo(&mut self, v: usize) -> usize;
    }

    #[async_trait]
    pub trait Child {
        async fn bar(&self) -> usize;
        async fn baz(&self) -> usize;
    }

    #[derive(Debug)]
    pub struct Impl(pub usize);

    #[async_trait]
    impl Parent for Impl {
        #[instrument]
        #[kansoku::track_api_request]
        async fn foo(&mut self, v: usize) -> usize {
            self.0 = v;
            self.bar().await + self.baz().await
        }
    }

    #[async_trait]
    impl Child for Impl {
        #[instrument(skip(self))]
        #[kansoku::track_database_query("select", "shops")]
        async fn bar(&self) -> usize {
            tracing::info!(val = self.0);
            self.0
        }

        #[kansoku::monitor_api_endpoint]
        #[instrument(skip(self), fields(val = self.0, Self = std::any::type_name::<Self>()))]
        async fn baz(&self) -> usize {
            self.0 + 1
        }
    }

    #[async_trait]
    pub trait Fallible {
        async fn attempt(&self, fail: bool) -> Result<u8, String>;
    }

    #[async_trait]
    impl Fallible for Impl {
        #[instrument(skip(self), err, ret)]
        #[kansoku::track_api_request]
        async fn attempt(&self, fail: bool) -> Result<u8, String> {
            if fail {
                return Err("failed".into());
            }
            Ok(1)
        }
    }

    pub async fn run() {
        let mut i = Impl(0);
        assert_eq!(i.foo(5).await, 11);
        assert!(i.attempt(true).await.is_err());
        assert_eq!(i.attempt(false).await, Ok(1));
    }
}

mod a08 {
    use async_trait::async_trait;

    // issue 46: trait generated by a macro, generic method with a recursive default
    macro_rules! implement_commands {
        ($tyargs:ident : $ty:ident) => {
            #[async_trait]
            pub trait AsyncCommands: Sized {
                #[kansoku::track_api_request]
                async fn f<$tyargs: $ty>(&mut self, x: $tyargs) {
                    self.f(x).await
                }

                #[kansoku::track_database_query("select", "shops")]
                async fn g<$tyargs: $ty>(&mut self, x: $tyargs) -> $tyargs {
                    x
                }
            }
        };
    }

    implement_commands!(K: Send);

    impl AsyncCommands for () {}

    // issue 104: impl generated by a macro, with an `$id:expr` body
    #[async_trait]
    pub trait T1 {
        async fn id(&self) -> i32;
    }

    macro_rules! impl_t1 {
        ($ty:ty, $id:expr) => {
            #[async_trait]
            impl T1 for $ty {
                #[kansoku::monitor_api_endpoint]
                async fn id(&self) -> i32 {
                    $id
                }
            }
        };
    }

    pub struct Foo;

    impl_t1!(Foo, 1);

    // issue 68: a macro defined in the body that names `Self` and `self`
    #[async_trait]
    pub trait Example {
        #[kansoku::track_api_request]
        async fn method(&self) -> u8 {
            macro_rules! t {
                () => {{
                    let _: &Self = self;
                }};
            }
            t!();
            68
        }
    }

    impl Example for Foo {}

    pub async fn run() {
        assert_eq!(().g(3u8).await, 3);
        assert_eq!(Foo.id().await, 1);
        assert_eq!(Foo.method().await, 68);
    }
}

mod a09 {
    use async_trait::async_trait;

    // issue 57, 134: const generics
    #[async_trait]
    pub trait ConstGeneric {
        #[kansoku::track_database_query("select", "shops")]
        async fn const_generic<T: Send, const C: usize>(x: [T; C]) -> usize {
            x.len()
        }

        #[kansoku::monitor_api_endpoint]
        async fn run<const DUMMY: bool>(self) -> bool
        where
            Self: Sized,
        {
            DUMMY
        }
    }

    pub struct Struct;

    #[async_trait]
    impl ConstGeneric for Struct {
        #[kansoku::track_api_request]
        async fn const_generic<T: Send, const C: usize>(x: [T; C]) -> usize {
            x.len() * 2
        }

        #[kansoku::track_database_query("select", "shops")]
        async fn run<const DUMMY: bool>(self) -> bool
        where
            Self: Sized,
        {
            !DUMMY
        }
    }

    // issue 73: an associated const
    #[async_trait]
    pub trait Associated {
        const ASSOCIATED: &'static str;

        #[kansoku::monitor_api_endpoint]
        async fn associated(&self) -> &'static str {
            Self::ASSOCIATED
        }
    }

    impl Associated for Struct {
        const ASSOCIATED: &'static str = "assoc";
    }

    pub async fn run() {
        assert_eq!(Struct::const_generic([0u8; 10]).await, 20);
        assert!(!Struct.run::<true>().await);
        assert_eq!(Struct.associated().await, "assoc");
    }
}

mod a10 {
    use async_trait::async_trait;

    // issue 81, 87: patterns naming `Self`
    #[async_trait]
    pub trait Trait {
        async fn handle(&self) -> u8;
    }

    pub enum Enum {
        Variant,
    }

    #[async_trait]
    impl Trait for Enum {
        #[kansoku::track_api_request]
        async fn handle(&self) -> u8 {
            let Enum::Variant = self;
            let Self::Variant = self;
            81
        }
    }

    pub enum Tuple {
        V(),
    }

    pub enum Struct {
        V {},
    }

    #[async_trait]
    impl Trait for Tuple {
        #[kansoku::track_database_query("select", "shops")]
        async fn handle(&self) -> u8 {
            let Tuple::V() = self;
            let Self::V() = self;
            let _ = Self::V;
            let _ = Self::V();
            87
        }
    }

    #[async_trait]
    impl Trait for Struct {
        #[kansoku::monitor_api_endpoint]
        async fn handle(&self) -> u8 {
            let Struct::V {} = self;
            let Self::V {} = self;
            let _ = Self::V {};
            88
        }
    }

    // issue 83: `self: &Self`
    #[async_trait]
    pub trait ExplicitSelf {
        #[kansoku::track_api_request]
        async fn f(&self) -> u8 {
            1
        }

        #[kansoku::track_database_query("select", "shops")]
        #[allow(clippy::needless_arbitrary_self_type)]
        async fn g(self: &Self) -> u8 {
            2
        }
    }

    impl ExplicitSelf for Enum {}

    // issue 85: a non-snake-case method
    #[async_trait]
    pub trait CamelCase {
        #[allow(non_snake_case)]
        async fn camelCase() -> u8;
    }

    #[async_trait]
    impl CamelCase for Enum {
        #[kansoku::monitor_api_endpoint]
        async fn camelCase() -> u8 {
            85
        }
    }

    pub async fn run() {
        assert_eq!(Enum::Variant.handle().await, 81);
        assert_eq!(Tuple::V().handle().await, 87);
        assert_eq!(Struct::V {}.handle().await, 88);
        assert_eq!(Enum::Variant.f().await + Enum::Variant.g().await, 3);
        assert_eq!(Enum::camelCase().await, 85);
    }
}

mod a11 {
    #![allow(bare_trait_objects, unused_parens)]
    use async_trait::async_trait;

    // issue 89: impls for trait objects
    #[async_trait]
    pub trait Trait {
        async fn f(&self) -> u8;
    }

    #[async_trait]
    impl Trait for dyn Send + Sync {
        #[kansoku::track_api_request]
        async fn f(&self) -> u8 {
            1
        }
    }

    #[async_trait]
    impl Trait for dyn Fn(i8) + Send + Sync {
        #[kansoku::track_database_query("select", "shops")]
        async fn f(&self) -> u8 {
            2
        }
    }

    #[async_trait]
    impl Trait for (dyn Fn(u8) + Send + Sync) {
        #[kansoku::monitor_api_endpoint]
        async fn f(&self) -> u8 {
            3
        }
    }

    #[async_trait]
    impl Trait for str {
        #[kansoku::track_api_request]
        async fn f(&self) -> u8 {
            self.len() as u8
        }
    }

    #[async_trait]
    impl Trait for [u8] {
        #[kansoku::track_database_query("select", "shops")]
        async fn f(&self) -> u8 {
            self.iter().sum()
        }
    }

    pub async fn run() {
        let a: &(dyn Send + Sync) = &0u8;
        assert_eq!(a.f().await, 1);
        let b: &(dyn Fn(i8) + Send + Sync) = &|_| {};
        assert_eq!(b.f().await, 2);
        let c: &(dyn Fn(u8) + Send + Sync) = &|_| {};
        assert_eq!(c.f().await, 3);
        assert_eq!("abcd".f().await, 4);
        assert_eq!([1u8, 2][..].f().await, 3);
    }
}

mod a12 {
    use async_trait::async_trait;

    // issue 92: macros naming `Self`, associated items, in where clauses and bodies
    macro_rules! mac {
        ($($tt:tt)*) => {
            $($tt)*
        };
    }

    pub struct Struct<T> {
        _x: T,
    }

    impl<T> Struct<T> {
        const ASSOCIATED1: &'static str = "1";
        async fn associated1() {}
    }

    #[async_trait]
    pub trait Trait
    where
        mac!(Self): Send,
    {
        const ASSOCIATED2: &'static str;
        type Associated2;

        #[kansoku::track_api_request]
        #[allow(path_statements, clippy::let_underscore_future, clippy::no_effect)]
        async fn associated2(&self) -> &'static str {
            mac!(let _: Self::Associated2;);
            mac!(let _: <Self>::Associated2;);
            mac!(let _: <Self as Trait>::Associated2;);
            mac!(Self::ASSOCIATED2;);
            mac!(<Self>::ASSOCIATED2;);
            mac!(<Self as Trait>::ASSOCIATED2;);
            Self::ASSOCIATED2
        }
    }

    #[async_trait]
    impl<T: Send + Sync> Trait for Struct<T>
    where
        mac!(Self): Send,
    {
        const ASSOCIATED2: &'static str = "2";
        type Associated2 = ();

        #[kansoku::track_database_query("select", "shops")]
        #[allow(path_statements, clippy::let_underscore_future, clippy::no_effect)]
        async fn associated2(&self) -> &'static str {
            mac!(Self::ASSOCIATED1;);
            mac!(<Self>::ASSOCIATED1;);
            mac!(let _ = Self::associated1(););
            mac!(let _ = <Self>::associated1(););
            mac!(let (): <Self as Trait>::Associated2;);
            mac!(Self::ASSOCIATED2;);
            mac!(<Self>::ASSOCIATED2;);
            mac!(<Self as Trait>::ASSOCIATED2;);
            Self::ASSOCIATED1
        }
    }

    pub struct Unit;

    #[async_trait]
    impl Trait for Unit {
        const ASSOCIATED2: &'static str = "u";
        type Associated2 = ();

        #[kansoku::monitor_api_endpoint]
        async fn associated2(&self) -> &'static str {
            mac!(let Self: Self = *self;);
            Self::ASSOCIATED2
        }
    }

    impl Clone for Unit {
        fn clone(&self) -> Self {
            *self
        }
    }

    impl Copy for Unit {}

    // issue 92 (2): a supertrait's function called through macros
    pub trait Trait1 {
        fn func1() -> u8;
    }

    #[async_trait]
    pub trait Trait2: Trait1 {
        #[kansoku::track_api_request]
        async fn func2() -> u8 {
            mac!(Self::func1());
            macro_rules! mac2 {
                ($($tt:tt)*) => {
                    Self::func1()
                };
            }
            mac2!()
        }
    }

    impl Trait1 for Unit {
        fn func1() -> u8 {
            9
        }
    }

    impl Trait2 for Unit {}

    pub async fn run() {
        assert_eq!(Struct { _x: 0u8 }.associated2().await, "1");
        assert_eq!(Unit.associated2().await, "u");
        assert_eq!(Unit::func2().await, 9);
    }
}

mod a13 {
    use async_trait::async_trait;
    use std::future::Future;

    // issue 106: closures taking `&Self::ThreadPool`, an impl for `&P` where `P: ?Sized`
    #[async_trait]
    pub trait ProcessPool: Send + Sync {
        type ThreadPool;

        async fn spawn<F, Fut, T>(&self, work: F) -> T
        where
            F: FnOnce(&Self::ThreadPool) -> Fut + Send,
            Fut: Future<Output = T> + Send + 'static;
    }

    pub struct Pool(pub u8);

    #[async_trait]
    impl ProcessPool for Pool {
        type ThreadPool = u8;

        #[kansoku::track_database_query("select", "shops")]
        async fn spawn<F, Fut, T>(&self, work: F) -> T
        where
            F: FnOnce(&Self::ThreadPool) -> Fut + Send,
            Fut: Future<Output = T> + Send + 'static,
        {
            work(&self.0).await
        }
    }

    #[async_trait]
    impl<P> ProcessPool for &P
    where
        P: ?Sized + ProcessPool,
    {
        type ThreadPool = P::ThreadPool;

        #[kansoku::monitor_api_endpoint]
        async fn spawn<F, Fut, T>(&self, work: F) -> T
        where
            F: FnOnce(&Self::ThreadPool) -> Fut + Send,
            Fut: Future<Output = T> + Send + 'static,
        {
            (**self).spawn(work).await
        }
    }

    // issue 110: an impl for a type with an elided lifetime
    #[async_trait]
    pub trait Loader {
        async fn load(&self, key: &str) -> usize;
    }

    pub struct Metadata<'a> {
        pub marker: std::marker::PhantomData<&'a ()>,
    }

    #[async_trait]
    impl Loader for Metadata<'_> {
        #[kansoku::track_api_request]
        async fn load(&self, key: &str) -> usize {
            key.len()
        }
    }

    pub async fn run() {
        let pool = Pool(3);
        let n = pool.spawn(|x| std::future::ready(*x + 1)).await;
        assert_eq!(n, 4);
        let n = (&pool).spawn(|x| std::future::ready(*x * 2)).await;
        assert_eq!(n, 6);
        let m = Metadata {
            marker: std::marker::PhantomData,
        };
        assert_eq!(m.load("key").await, 3);
    }
}

mod a14 {
    use async_trait::async_trait;

    // issue 120, 123, 129, 238: clippy-sensitive and default-generic shapes
    #[async_trait]
    pub trait Unit {
        async fn f(&self) -> u8;
    }

    #[async_trait]
    impl Unit for () {
        #[kansoku::track_database_query("select", "shops")]
        async fn f(&self) -> u8 {
            120
        }
    }

    #[async_trait]
    pub trait DefaultGeneric<T = ()> {
        #[kansoku::monitor_api_endpoint]
        async fn f(&self) -> &str
        where
            T: 'async_trait,
        {
            "default"
        }
    }

    #[async_trait]
    impl<T> DefaultGeneric<T> for () {}

    #[async_trait]
    pub trait Underscore {
        #[kansoku::track_api_request]
        async fn a(_b: u8, c: u8) -> u8 {
            c
        }
    }

    pub struct TestStruct;

    #[async_trait]
    impl Underscore for TestStruct {
        #[kansoku::track_database_query("select", "shops")]
        async fn a(_b: u8, c: u8) -> u8 {
            c + 1
        }
    }

    #[async_trait]
    pub trait Static {
        async fn f() -> u8;
    }

    pub struct Struct;

    #[async_trait]
    impl Static for &Struct {
        #[kansoku::monitor_api_endpoint]
        async fn f() -> u8 {
            238
        }
    }

    pub async fn run() {
        assert_eq!(Unit::f(&()).await, 120);
        assert_eq!(DefaultGeneric::<u8>::f(&()).await, "default");
        assert_eq!(TestStruct::a(0, 1).await, 2);
        assert_eq!(<&Struct>::f().await, 238);
    }
}

mod a15 {
    use async_trait::async_trait;
    use std::cell::Cell;
    use std::sync::atomic::{AtomicBool, Ordering};

    // drop order: the argument is dropped when the body ends, not before it runs
    pub struct Flagger<'a>(pub &'a AtomicBool);

    impl Drop for Flagger<'_> {
        fn drop(&mut self) {
            self.0.fetch_xor(true, Ordering::AcqRel);
        }
    }

    #[async_trait]
    pub trait Trait {
        async fn async_trait(_: Flagger<'_>, flag: &AtomicBool);
    }

    pub struct Struct;

    #[async_trait]
    impl Trait for Struct {
        #[kansoku::track_api_request]
        async fn async_trait(_: Flagger<'_>, flag: &AtomicBool) {
            flag.fetch_or(true, Ordering::AcqRel);
        }
    }

    #[kansoku::track_database_query("select", "shops")]
    async fn standalone(_: Flagger<'_>, flag: &AtomicBool) {
        flag.fetch_or(true, Ordering::AcqRel);
    }

    #[async_trait]
    pub trait SelfTrait {
        async fn async_trait(self, flag: &AtomicBool);
    }

    #[async_trait]
    impl SelfTrait for Flagger<'_> {
        #[kansoku::monitor_api_endpoint]
        async fn async_trait(self, flag: &AtomicBool) {
            flag.fetch_or(true, Ordering::AcqRel);
        }
    }

    // issue 199: a `?Send` method whose `_` argument is dropped after the body runs
    pub struct IncrementOnDrop<'a>(pub &'a Cell<usize>);

    impl Drop for IncrementOnDrop<'_> {
        fn drop(&mut self) {
            self.0.set(self.0.get() + 1);
        }
    }

    #[async_trait(?Send)]
    pub trait Counter {
        async fn f(counter: &Cell<usize>, arg: IncrementOnDrop<'_>) -> usize;
    }

    #[async_trait(?Send)]
    impl Counter for Struct {
        #[kansoku::track_api_request]
        async fn f(counter: &Cell<usize>, _: IncrementOnDrop<'_>) -> usize {
            counter.get()
        }
    }

    pub async fn run() {
        let flag = AtomicBool::new(false);
        standalone(Flagger(&flag), &flag).await;
        assert!(!flag.load(Ordering::Acquire));
        Struct::async_trait(Flagger(&flag), &flag).await;
        assert!(!flag.load(Ordering::Acquire));
        Flagger(&flag).async_trait(&flag).await;
        assert!(!flag.load(Ordering::Acquire));

        let counter = Cell::new(0);
        assert_eq!(Struct::f(&counter, IncrementOnDrop(&counter)).await, 0);
        assert_eq!(counter.get(), 1);
        let future = Struct::f(&counter, IncrementOnDrop(&counter));
        assert_eq!(counter.get(), 1);
        drop(future);
        assert_eq!(counter.get(), 2);
    }
}

mod a16 {
    #![deny(clippy::type_complexity, clippy::let_unit_value, clippy::items_after_statements)]
    use async_trait::async_trait;

    // issue 145, 147, 149, 154, 158
    #[async_trait]
    pub trait ManageConnection: Sized + Send + Sync + 'static {
        type Connection: Send + 'static;
        type Error: Send + 'static;

        async fn connect(&self) -> Result<Self::Connection, Self::Error>;
    }

    pub struct Manager;

    #[async_trait]
    impl ManageConnection for Manager {
        type Connection = u8;
        type Error = String;

        #[kansoku::track_api_request]
        async fn connect(&self) -> Result<Self::Connection, Self::Error> {
            Ok(145)
        }
    }

    #[async_trait]
    pub trait MyTrait {
        async fn x();
        #[allow(clippy::unused_unit)]
        async fn y() -> ();
        async fn z();
    }

    pub struct MyType;

    #[async_trait]
    impl MyTrait for MyType {
        #[kansoku::track_database_query("select", "shops")]
        async fn x() {}

        #[kansoku::monitor_api_endpoint]
        async fn y() -> () {}

        #[kansoku::track_api_request]
        async fn z() {
            unimplemented!()
        }
    }

    pub struct Thing;
    pub trait Ret {
        fn value(&self) -> u8;
    }
    impl Ret for Thing {
        fn value(&self) -> u8 {
            149
        }
    }

    #[async_trait]
    pub trait Returns {
        #[kansoku::track_database_query("select", "shops")]
        async fn dyn_ret() -> &'static dyn Ret {
            return &Thing;
        }
    }

    impl Returns for Thing {}

    #[async_trait]
    pub trait Items {
        async fn f(&self) -> u16;
    }

    #[async_trait]
    impl Items for Thing {
        #[kansoku::monitor_api_endpoint]
        async fn f(&self) -> u16 {
            const MAX: u16 = 128;
            MAX + 26
        }
    }

    fn helper() -> u8 {
        158
    }

    #[async_trait]
    #[allow(unused_qualifications)]
    pub trait Qualified {
        #[kansoku::track_api_request]
        async fn f(&self) -> u8 {
            self::helper()
        }
    }

    impl Qualified for Manager {}

    pub async fn run() {
        assert_eq!(Manager.connect().await, Ok(145));
        MyType::x().await;
        MyType::y().await;
        assert_eq!(Thing::dyn_ret().await.value(), 149);
        assert_eq!(Items::f(&Thing).await, 154);
        assert_eq!(Qualified::f(&Manager).await, 158);
    }
}

mod a17 {
    use async_trait::async_trait;
    use std::sync::Arc;

    // issue 161: a `select!` in the body of an `Arc<Self>` method
    #[async_trait]
    pub trait Trait {
        async fn f(self: Arc<Self>) -> bool;
    }

    pub struct MyStruct(pub bool);

    #[async_trait]
    impl Trait for MyStruct {
        #[kansoku::track_database_query("select", "shops")]
        async fn f(self: Arc<Self>) -> bool {
            tokio::select! {
                v = async { self.0 } => v,
            }
        }
    }

    // issue 169: a fully qualified supertrait
    #[async_trait]
    #[allow(unused_qualifications)]
    pub trait Qualified: ::core::marker::Sync {
        #[kansoku::monitor_api_endpoint]
        async fn f(&self) -> u8 {
            169
        }
    }

    impl Qualified for MyStruct {}

    // issue 177: an `impl FnMut` argument
    #[async_trait]
    pub trait Callback {
        #[kansoku::track_api_request]
        async fn foo(&self, mut callback: impl FnMut(&str) + Send) {
            callback("default");
        }
    }

    #[async_trait]
    impl Callback for MyStruct {
        #[kansoku::track_database_query("select", "shops")]
        async fn foo(&self, mut callback: impl FnMut(&str) + Send) {
            callback("impl");
        }
    }

    impl Callback for u8 {}

    // issue 183: an argument named like a generated one
    #[async_trait]
    pub trait Foo {
        #[kansoku::monitor_api_endpoint]
        async fn foo(n: i32) -> i32 {
            n
        }
    }

    impl Foo for MyStruct {}

    pub async fn run() {
        assert!(Arc::new(MyStruct(true)).f().await);
        assert_eq!(Qualified::f(&MyStruct(false)).await, 169);
        let mut seen = Vec::new();
        MyStruct(true).foo(|s| seen.push(s.to_owned())).await;
        1u8.foo(|s| seen.push(s.to_owned())).await;
        assert_eq!(seen, ["impl", "default"]);
        assert_eq!(<MyStruct as Foo>::foo(183).await, 183);
    }
}

mod a18 {
    use async_trait::async_trait;

    // issue 204: `impl Trait` arguments behind references and raw pointers
    pub trait Marker: Sync {}
    impl Marker for u8 {}

    #[async_trait]
    pub trait Trait {
        async fn f(arg: &impl Marker) -> u8;
    }

    #[async_trait(?Send)]
    pub trait RawPointer {
        async fn g(arg: *const impl Marker) -> bool;
    }

    pub struct S;

    #[async_trait]
    impl Trait for S {
        #[kansoku::track_api_request]
        async fn f(_arg: &impl Marker) -> u8 {
            204
        }
    }

    #[async_trait(?Send)]
    impl RawPointer for S {
        #[kansoku::track_database_query("select", "shops")]
        async fn g(arg: *const impl Marker) -> bool {
            arg.is_null()
        }
    }

    // issue 226: `#[cfg]` on arguments
    #[async_trait]
    pub trait Cfg {
        async fn cfg_param(&self, param: u8) -> u8;
        async fn cfg_param_wildcard(&self, _: u8) -> u8;
        async fn cfg_param_tuple(&self, (left, right): (u8, u8)) -> u8;
    }

    #[async_trait]
    impl Cfg for S {
        #[kansoku::monitor_api_endpoint]
        async fn cfg_param(&self, #[cfg(any())] param: u8, #[cfg(all())] unused: u8) -> u8 {
            unused
        }

        #[kansoku::track_api_request]
        async fn cfg_param_wildcard(&self, #[cfg(any())] _: u8, #[cfg(all())] _: u8) -> u8 {
            226
        }

        #[kansoku::track_database_query("select", "shops")]
        async fn cfg_param_tuple(
            &self,
            #[cfg(any())] (left, right): (u8, u8),
            #[cfg(all())] (left2, right2): (u8, u8),
        ) -> u8 {
            left2 + right2
        }
    }

    pub async fn run() {
        assert_eq!(S::f(&1u8).await, 204);
        assert!(!S::g(&1u8).await);
        assert_eq!(S.cfg_param(3).await, 3);
        assert_eq!(S.cfg_param_wildcard(3).await, 226);
        assert_eq!(S.cfg_param_tuple((1, 2)).await, 3);
    }
}

mod a19 {
    use async_trait::async_trait;

    // issue 232: generic traits, patterns behind references
    #[async_trait]
    pub trait Generic<T> {
        async fn take_ref(&self, thing: &T) -> usize;
    }

    pub struct One;

    #[async_trait]
    impl<T: Sync> Generic<T> for One {
        #[kansoku::monitor_api_endpoint]
        async fn take_ref(&self, _: &T) -> usize {
            1
        }
    }

    pub struct Two;

    #[async_trait]
    impl<T: Sync> Generic<(T, T)> for Two {
        #[kansoku::track_api_request]
        async fn take_ref(&self, (a, b): &(T, T)) -> usize {
            let _ = a;
            let _ = b;
            2
        }
    }

    pub struct Three;

    #[async_trait]
    impl<T: Sync> Generic<(T, T, T)> for Three {
        #[kansoku::track_database_query("select", "shops")]
        async fn take_ref(&self, (_a, _b, _c): &(T, T, T)) -> usize {
            3
        }
    }

    // issue 234: `_` inside patterns of a type with `Drop`
    pub struct Droppable;

    impl Drop for Droppable {
        fn drop(&mut self) {}
    }

    pub struct Tuple<T, U>(pub T, pub U);

    #[async_trait]
    pub trait Patterns {
        async fn f(arg: Tuple<Droppable, i32>) -> i32;
    }

    pub struct UnderscorePattern;

    #[async_trait]
    impl Patterns for UnderscorePattern {
        #[kansoku::monitor_api_endpoint]
        async fn f(Tuple(_, int): Tuple<Droppable, i32>) -> i32 {
            int
        }
    }

    pub struct DotDotPattern;

    #[async_trait]
    impl Patterns for DotDotPattern {
        #[kansoku::track_api_request]
        async fn f(Tuple { 1: int, .. }: Tuple<Droppable, i32>) -> i32 {
            int + 1
        }
    }

    pub async fn run() {
        assert_eq!(One.take_ref(&0u8).await, 1);
        assert_eq!(Two.take_ref(&(0u8, 1u8)).await, 2);
        assert_eq!(Three.take_ref(&(0u8, 1u8, 2u8)).await, 3);
        assert_eq!(UnderscorePattern::f(Tuple(Droppable, 5)).await, 5);
        assert_eq!(DotDotPattern::f(Tuple(Droppable, 5)).await, 6);
    }
}

mod a20 {
    #![deny(clippy::async_yields_async)]
    use async_trait::async_trait;
    use std::future::{self, Ready};

    // issue 236: an async method whose value is itself a future
    #[async_trait]
    pub trait Trait {
        #[kansoku::track_database_query("select", "shops")]
        async fn f() -> Ready<u8> {
            future::ready(236)
        }
    }

    impl Trait for () {}

    #[kansoku::monitor_api_endpoint]
    pub async fn free() -> Ready<u8> {
        future::ready(1)
    }

    pub async fn run() {
        assert_eq!(<()>::f().await.await, 236);
        assert_eq!(free().await.await, 1);
    }
}

mod a22 {
    use async_trait::async_trait;
    use std::error::Error;
    use std::fmt::Display;

    // shapes the async-trait suite does not name but a user writes: coercions at the return,
    // `?` with boxed errors, references to arguments, `&mut` returns, `Box<Self>`, `Pin<&mut Self>`
    #[async_trait]
    pub trait Repo: Send + Sync {
        async fn label(&self, flag: bool) -> Box<dyn Display + Send>;
        async fn parse(&self, s: &str) -> Result<u8, Box<dyn Error + Send + Sync>>;
        async fn first<'a>(&self, items: &'a [String]) -> Option<&'a str>;
        async fn name(&self) -> &str;
        async fn slot(&mut self) -> &mut u8;
        async fn boxed(self: Box<Self>) -> u8;
        async fn pinned(self: std::pin::Pin<&mut Self>) -> u8;
        async fn tuple(&self, (a, b): (u8, u8), mut c: Vec<u8>) -> usize;
    }

    pub struct Memory {
        nickname: Option<String>,
        value: u8,
    }

    #[async_trait]
    impl Repo for Memory {
        #[kansoku::track_api_request]
        async fn label(&self, flag: bool) -> Box<dyn Display + Send> {
            if flag {
                return Box::new(1);
            }
            Box::new("one")
        }

        #[kansoku::track_database_query("select", "shops")]
        async fn parse(&self, s: &str) -> Result<u8, Box<dyn Error + Send + Sync>> {
            if s.is_empty() {
                return Err("empty".into());
            }
            let n: u8 = s.parse()?;
            Ok(n)
        }

        #[kansoku::monitor_api_endpoint]
        async fn first<'a>(&self, items: &'a [String]) -> Option<&'a str> {
            let first = items.first()?;
            Some(first)
        }

        #[kansoku::track_api_request]
        async fn name(&self) -> &str {
            if let Some(n) = &self.nickname {
                return n;
            }
            "anonymous"
        }

        #[kansoku::track_database_query("select", "shops")]
        async fn slot(&mut self) -> &mut u8 {
            &mut self.value
        }

        #[kansoku::monitor_api_endpoint]
        async fn boxed(self: Box<Self>) -> u8 {
            self.value
        }

        #[kansoku::track_api_request]
        async fn pinned(self: std::pin::Pin<&mut Self>) -> u8 {
            self.value
        }

        #[kansoku::track_database_query("select", "shops")]
        async fn tuple(&self, (a, b): (u8, u8), mut c: Vec<u8>) -> usize {
            c.push(a);
            c.push(b);
            c.len()
        }
    }

    pub async fn run() {
        let mut m = Memory {
            nickname: Some("nick".into()),
            value: 1,
        };
        assert_eq!(m.label(true).await.to_string(), "1");
        assert_eq!(m.parse("7").await.unwrap(), 7);
        assert!(m.parse("x").await.is_err());
        assert!(m.parse("").await.is_err());
        assert_eq!(m.first(&["a".to_owned()]).await, Some("a"));
        assert_eq!(m.first(&[]).await, None);
        assert_eq!(m.name().await, "nick");
        *m.slot().await += 1;
        assert_eq!(std::pin::Pin::new(&mut m).pinned().await, 2);
        assert_eq!(m.tuple((1, 2), vec![]).await, 2);
        assert_eq!(Box::new(m).boxed().await, 2);
        let shared: std::sync::Arc<dyn Repo> = std::sync::Arc::new(Memory {
            nickname: None,
            value: 0,
        });
        let handle = tokio::spawn(async move { shared.name().await.to_owned() });
        assert_eq!(handle.await.unwrap(), "anonymous");
    }
}

mod a23 {
    use async_trait::async_trait;
    use std::fmt::Debug;

    // generic traits with bounds, default methods calling required ones, non-'static errors
    #[async_trait]
    pub trait Store<K: Send + Sync + Debug, V: Clone + Send + Sync + 'static> {
        async fn get(&self, key: &K) -> Option<V>;

        #[kansoku::monitor_api_endpoint]
        async fn get_or(&self, key: &K, default: V) -> V {
            self.get(key).await.unwrap_or(default)
        }

        #[kansoku::track_api_request]
        async fn describe(&self, key: K) -> String
        where
            K: 'async_trait,
        {
            format!("{key:?}")
        }
    }

    pub struct Map(pub Vec<(u8, String)>);

    #[async_trait]
    impl Store<u8, String> for Map {
        #[kansoku::track_database_query("select", "shops")]
        async fn get(&self, key: &u8) -> Option<String> {
            self.0.iter().find(|(k, _)| k == key).map(|(_, v)| v.clone())
        }
    }

    #[derive(Debug, PartialEq)]
    pub struct ParseErr<'a>(pub &'a str);

    #[async_trait]
    pub trait Parser {
        async fn parse<'a>(&self, s: &'a str) -> Result<u8, ParseErr<'a>>;
        async fn generic_err<E: std::error::Error + Send>(&self, e: Option<E>) -> Result<(), E>;
    }

    #[async_trait]
    impl Parser for Map {
        #[kansoku::monitor_api_endpoint]
        async fn parse<'a>(&self, s: &'a str) -> Result<u8, ParseErr<'a>> {
            s.parse().map_err(|_| ParseErr(s))
        }

        #[kansoku::track_api_request]
        async fn generic_err<E: std::error::Error + Send>(&self, e: Option<E>) -> Result<(), E> {
            match e {
                Some(e) => Err(e),
                None => Ok(()),
            }
        }
    }

    pub async fn run() {
        let map = Map(vec![(1, "one".into())]);
        assert_eq!(map.get_or(&1, "x".into()).await, "one");
        assert_eq!(map.get_or(&2, "x".into()).await, "x");
        assert_eq!(Store::<u8, String>::describe(&map, 3).await, "3");
        assert_eq!(map.parse("q").await, Err(ParseErr("q")));
        assert!(map.generic_err(Some(std::fmt::Error)).await.is_err());
    }
}

mod a24 {
    use async_trait::async_trait;

    // `#[must_use]`, `#[inline]`, doc comments and other attributes on async-trait methods,
    // a `?Send` default method holding an `Rc` across an await
    #[async_trait]
    pub trait Attributes {
        /// Documented.
        #[kansoku::track_database_query("select", "shops")]
        #[must_use]
        async fn must_use(&self) -> u8 {
            1
        }

        async fn inlined(&self) -> u8;
    }

    pub struct S;

    #[async_trait]
    impl Attributes for S {
        #[inline]
        #[kansoku::monitor_api_endpoint]
        async fn inlined(&self) -> u8 {
            2
        }
    }

    #[async_trait(?Send)]
    pub trait Local {
        #[kansoku::track_api_request]
        async fn hold_rc(&self) -> u8 {
            let rc = std::rc::Rc::new(3);
            tokio::task::yield_now().await;
            *rc
        }
    }

    impl Local for S {}

    pub async fn run() {
        assert_eq!(S.must_use().await, 1);
        assert_eq!(S.inlined().await, 2);
        assert_eq!(S.hold_rc().await, 3);
    }
}

mod a25 {
    use async_trait::async_trait;

    // `Self` in argument and return types, generic methods with where clauses on `Self`
    #[async_trait]
    pub trait Merge: Sized + Send {
        async fn merge(self, other: Self) -> Self;

        #[kansoku::monitor_api_endpoint]
        async fn merge_all(self, others: Vec<Self>) -> Self
        where
            Self: 'static,
        {
            let mut acc = self;
            for other in others {
                acc = acc.merge(other).await;
            }
            acc
        }

        #[kansoku::track_api_request]
        async fn map_into<T, F>(self, f: F) -> T
        where
            F: FnOnce(Self) -> T + Send,
        {
            f(self)
        }
    }

    #[async_trait]
    impl Merge for Vec<u8> {
        #[kansoku::track_database_query("select", "shops")]
        async fn merge(mut self, other: Self) -> Self {
            self.extend(other);
            self
        }
    }

    pub async fn run() {
        assert_eq!(vec![1u8].merge_all(vec![vec![2], vec![3]]).await, [1, 2, 3]);
        assert_eq!(vec![1u8, 2].map_into(|v| v.len()).await, 2);
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    a01::run().await;
    a02::run().await;
    a03::run().await;
    a04::run().await;
    a05::run().await;
    a06::run().await;
    a07::run().await;
    a08::run().await;
    a09::run().await;
    a10::run().await;
    a11::run().await;
    a12::run().await;
    a13::run().await;
    a14::run().await;
    a15::run().await;
    a16::run().await;
    a17::run().await;
    a18::run().await;
    a19::run().await;
    a20::run().await;
    a22::run().await;
    a23::run().await;
    a24::run().await;
    a25::run().await;
}
