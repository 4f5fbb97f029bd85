//! Expansion snapshots and error messages, tested on token input through the crate's own
//! `expand` functions, pretty-printed with `prettyplease`; the snapshots are checked in under
//! `src/snapshots/`. Review changes with `cargo insta review` (or `INSTA_UPDATE=always`).

use proc_macro2::TokenStream;
use quote::quote;

use crate::args::{EndpointArgs, QueryArgs, RequestArgs};
use crate::expand::{instrument, SiteArgs};

fn expand<A: SiteArgs>(args: TokenStream, item: TokenStream) -> String {
    let tokens = instrument::<A>(args, item);
    match syn::parse_file(&tokens.to_string()) {
        Ok(file) => prettyplease::unparse(&file),
        Err(error) => format!("unparsable expansion ({error}):\n{tokens}"),
    }
}

/// Every error message for `args`, one per line.
fn errors<A: SiteArgs>(args: TokenStream) -> String {
    match syn::parse2::<A>(args) {
        Ok(_) => "(no error)".to_owned(),
        Err(error) => error
            .into_iter()
            .map(|error| error.to_string())
            .collect::<Vec<_>>()
            .join("\n"),
    }
}

/// Every error message for applying `#[track_api_request]` to `item`.
fn target_errors(item: TokenStream) -> String {
    match crate::target::function("track_api_request", item) {
        Ok(_) => "(no error)".to_owned(),
        Err(error) => error.to_string(),
    }
}

macro_rules! snapshot {
    ($name:ident, $args:ty, ($($attr:tt)*), $($item:tt)*) => {
        #[test]
        fn $name() {
            insta::assert_snapshot!(expand::<$args>(quote!($($attr)*), quote!($($item)*)));
        }
    };
}

snapshot!(
    async_free_fn,
    RequestArgs,
    (method = "POST", endpoint = "/checkout"),
    pub async fn checkout(cart: Cart) -> Result<Receipt, CheckoutError> {
        let receipt = pay(&cart).await?;
        Ok(receipt)
    }
);

// the `_` argument is named, so the body's block can move it in and drop it in its place
snapshot!(
    async_fn_ignoring_an_argument,
    RequestArgs,
    (),
    async fn hold(permit: Permit, _: Guard) -> u8 {
        permit.use_it().await
    }
);

snapshot!(
    sync_free_fn_without_return_type,
    RequestArgs,
    (),
    fn ping() {
        tick();
    }
);

snapshot!(
    positional_request_args,
    RequestArgs,
    ("GET", "/shops"),
    async fn get_shops() -> Json<Vec<Shop>> {
        Json(Vec::new())
    }
);

snapshot!(
    async_method,
    QueryArgs,
    ("select", "shops"),
    /// Loads every shop.
    #[must_use]
    pub(crate) async fn list(&self, limit: u32) -> Result<Vec<Shop>, DbError> {
        self.pool.fetch(limit).await
    }
);

snapshot!(
    sync_method_with_generics,
    QueryArgs,
    (operation = "insert", table = "shops"),
    fn insert<T: Into<Shop>>(&mut self, shop: T) -> Result<(), DbError>
    where
        T: Send,
    {
        self.rows.push(shop.into());
        Ok(())
    }
);

snapshot!(
    arc_self_method,
    EndpointArgs,
    (name = "GET /shops", op = "http.server"),
    async fn serve(self: Arc<Self>) -> Response {
        self.respond().await
    }
);

snapshot!(
    endpoint_without_args,
    EndpointArgs,
    (),
    async fn health() -> &'static str {
        "ok"
    }
);

snapshot!(
    endpoint_stacked_on_request_takes_its_endpoint,
    EndpointArgs,
    (),
    #[kansoku::track_api_request(method = "GET", endpoint = "/shops")]
    async fn get_shops() -> Result<Vec<Shop>, ApiError> {
        fetch().await
    }
);

snapshot!(
    endpoint_stacked_on_request_method_with_fields,
    EndpointArgs,
    (fields(id)),
    #[doc = "One shop."]
    #[track_api_request]
    async fn show(&self, id: u64) -> Option<Shop> {
        self.find(id).await
    }
);

// Not taken in: another attribute macro between them (it expands first), a plain `fn`, and a
// `track_api_request` that is not kansoku's.
snapshot!(
    endpoint_stacked_over_another_macro_stays_nested,
    EndpointArgs,
    (),
    #[cached]
    #[kansoku::track_api_request]
    async fn get_shops() -> Vec<Shop> {
        fetch().await
    }
);

snapshot!(
    endpoint_stacked_on_request_sync_stays_nested,
    EndpointArgs,
    (),
    #[kansoku::track_api_request]
    fn get_shops() -> Vec<Shop> {
        fetch()
    }
);

snapshot!(
    endpoint_stacked_on_foreign_request_stays_nested,
    EndpointArgs,
    (),
    #[other::track_api_request]
    async fn get_shops() -> Vec<Shop> {
        fetch().await
    }
);

snapshot!(
    endpoint_capturing_fields,
    EndpointArgs,
    (name = "reserve", fields(shop_id, source)),
    async fn reserve(db: &Db, shop_id: u32, source: String) -> Result<u64, ApiError> {
        db.insert(shop_id, &source).await
    }
);

snapshot!(
    impl_trait_return,
    RequestArgs,
    (endpoint = "/ids"),
    fn ids(input: impl IntoIterator<Item = u32>) -> Result<impl Iterator<Item = u32>, Error> {
        Ok(input.into_iter())
    }
);

snapshot!(raw_identifier_name, RequestArgs, (), async fn r#match() {});

snapshot!(
    inner_attributes_stay_first,
    RequestArgs,
    (),
    fn quiet() {
        #![allow(unused_variables)]
        let x = 1;
    }
);

// What `#[async_trait]` makes of `async fn get(&self, id: u32) -> Result<Shop, E>`.
snapshot!(
    async_trait_method,
    RequestArgs,
    (method = "GET"),
    fn get<'life0, 'async_trait>(
        &'life0 self,
        id: u32,
    ) -> ::core::pin::Pin<
        Box<
            dyn ::core::future::Future<Output = Result<Shop, E>>
                + ::core::marker::Send
                + 'async_trait,
        >,
    >
    where
        'life0: 'async_trait,
        Self: 'async_trait,
    {
        Box::pin(async move {
            let __self = self;
            let id = id;
            let __ret: Result<Shop, E> = { __self.load(id).await };
            #[allow(unreachable_code)]
            __ret
        })
    }
);

// `#[tracing::instrument]` ran first on an `#[async_trait]` method: the boxed future is not an
// async block any more, but it is still the future to instrument.
snapshot!(
    async_trait_method_instrumented_by_tracing,
    QueryArgs,
    ("select", "shops"),
    fn get<'a>(&'a self) -> Pin<Box<dyn Future<Output = u32> + Send + 'a>> {
        let __tracing_attr_span = span();
        Box::pin(Instrument::instrument(
            async move { 1 },
            __tracing_attr_span,
        ))
    }
);

// No `Output = T` to read from the return type: the result is annotated `_`.
snapshot!(
    boxed_future_alias,
    RequestArgs,
    (),
    fn boxed(x: u32) -> BoxFuture<'static, u32> {
        Box::pin(async move { x })
    }
);

snapshot!(
    returns_impl_future_async_block,
    RequestArgs,
    (),
    fn later(x: u32) -> impl Future<Output = u32> + Send {
        async move { x + 1 }
    }
);

snapshot!(
    diverging_fn,
    RequestArgs,
    (),
    fn serve_forever(port: u16) -> ! {
        loop {
            accept(port);
        }
    }
);

snapshot!(
    error_next_to_unchanged_item,
    RequestArgs,
    (method = "get", endpoint = ""),
    const fn answer() -> u32 {
        42
    }
);

#[test]
fn request_arg_errors() {
    insta::assert_snapshot!([
        errors::<RequestArgs>(quote!(path = "/shops")),
        errors::<RequestArgs>(quote!(method = "GET", method = "POST")),
        errors::<RequestArgs>(quote!(method = 1)),
        errors::<RequestArgs>(quote!(endpoint = true)),
        errors::<RequestArgs>(quote!(endpoint = ENDPOINT)),
        errors::<RequestArgs>(quote!(endpoint = concat!("/", "shops"))),
        errors::<RequestArgs>(quote!(endpoint = format("/{}", id))),
        errors::<RequestArgs>(quote!(endpoint = b"/shops")),
        errors::<RequestArgs>(quote!(endpoint = "")),
        errors::<RequestArgs>(quote!(endpoint = "/shops list")),
        errors::<RequestArgs>(quote!(method = "get")),
        errors::<RequestArgs>(quote!(method = "FETCH")),
        errors::<RequestArgs>(quote!("GET", "/shops", "extra")),
        errors::<RequestArgs>(quote!("GET", method = "POST")),
        errors::<RequestArgs>(quote!(endpoint = "/shops", "GET")),
        errors::<RequestArgs>(quote!(method: "GET")),
        errors::<RequestArgs>(quote!(method "GET")),
        errors::<RequestArgs>(quote!(method = "get", endpoint = "", verb = "GET")),
        errors::<RequestArgs>(quote!(method = "GET", endpoint = "/shops",)),
    ]
    .join("\n---\n"));
}

#[test]
fn endpoint_and_query_arg_errors() {
    insta::assert_snapshot!([
        errors::<EndpointArgs>(quote!("shops")),
        errors::<EndpointArgs>(quote!(method = "GET")),
        errors::<EndpointArgs>(quote!(name = "GET /shops", op = "http server")),
        errors::<EndpointArgs>(quote!(name = " GET /shops")),
        errors::<EndpointArgs>(quote!(name = "a\nb")),
        errors::<EndpointArgs>(quote!(op = "http.server", name = "x", op = "y")),
        errors::<QueryArgs>(quote!()),
        errors::<QueryArgs>(quote!("select")),
        errors::<QueryArgs>(quote!(table = "shops")),
        errors::<QueryArgs>(quote!("select", "shops", "extra")),
        errors::<QueryArgs>(quote!("select", table = "shops")),
        errors::<QueryArgs>(quote!("select", "shops", table = "users")),
        errors::<QueryArgs>(quote!(operation = "sel ect", table = "")),
        errors::<QueryArgs>(quote!(operation = 'x', table = 1.5)),
        errors::<QueryArgs>(quote!(operation("select"), table("shops"))),
    ]
    .join("\n---\n"));
}

#[test]
fn target_errors_name_the_item() {
    insta::assert_snapshot!([
        target_errors(quote!(
            const fn f() {}
        )),
        target_errors(quote!(
            const async fn f() {}
        )),
        target_errors(quote!(
            fn f(&self);
        )),
        target_errors(quote!(
            extern "C" {
                fn f();
            }
        )),
        target_errors(quote!(
            struct Shop {
                id: u32,
            }
        )),
        target_errors(quote!(
            enum E {
                A,
            }
        )),
        target_errors(quote!(impl Shop { fn f() {} })),
        target_errors(quote!(
            trait T {
                fn f();
            }
        )),
        target_errors(quote!(
            mod m {}
        )),
        target_errors(quote!(
            static X: u32 = 1;
        )),
        target_errors(quote!(
            const X: u32 = 1;
        )),
        target_errors(quote!(
            type T = u32;
        )),
        target_errors(quote!(
            use std::fmt;
        )),
        target_errors(quote!(
            macro_rules! m {
                () => {};
            }
        )),
        target_errors(quote!(
            unsafe extern "C" fn f() {}
        )),
    ]
    .join("\n---\n"));
}

// `#[track_caller]`: the body runs inline, its `return`s become `break`s out of a label, and a
// `?` that leaves the function ends the call with the outcome of `Result<u8, ParseError>`.
snapshot!(
    track_caller_runs_inline,
    RequestArgs,
    (),
    #[track_caller]
    fn checked(input: &str) -> Result<u8, ParseError> {
        if input.is_empty() {
            return Err(ParseError::Empty);
        }
        let closure = || {
            return 1;
        };
        Ok(input.parse::<u8>()? + closure())
    }
);

// A non-`move` `async` tail is the call too, and the user's block (with its `use`) is
// evaluated before the output type is restated outside it.
snapshot!(
    non_move_async_tail_with_shadowing_use,
    RequestArgs,
    (),
    fn later() -> impl Future<Output = Result<u8, Error>> {
        use other::Error;
        async { Err(Error) }
    }
);

// `Box::pin` of something that is not a future is a plain value.
snapshot!(
    box_pin_of_a_value,
    RequestArgs,
    (),
    fn pinned(v: u8) -> Pin<Box<Self>> {
        Box::pin(Node { v })
    }
);

// `#[tracing::instrument]` right below: expanded first, kansoku's attribute emitted again below
// it, so that the span is inside the call.
snapshot!(
    tracing_instrument_below_expands_first,
    EndpointArgs,
    (name = "orders"),
    #[doc = "Orders."]
    #[tracing::instrument(skip_all, fields(order = id))]
    async fn order(id: u32) -> Result<u32, Error> {
        Ok(id)
    }
);

// anything else named `instrument` under a path is not tracing's: expanded as usual
snapshot!(
    other_instrument_attribute_is_left_below,
    RequestArgs,
    (),
    #[metrics::instrument]
    async fn list() {}
);
