//! Parsing and validation of the attribute arguments.
//!
//! Parsing happens in two steps, so that every mistake in one attribute is reported at once:
//! [`RawArgs`] reads the token syntax (`key = value` or a positional value, comma separated),
//! then each attribute's typed argument struct checks names, positions and literal values,
//! collecting every error into one [`syn::Error`].

use proc_macro2::{Span, TokenStream};
use syn::ext::IdentExt as _;
use syn::parse::{Parse, ParseStream};
use syn::punctuated::Punctuated;
use syn::{Expr, Ident, Lit, LitStr, Token};

mod kw {
    syn::custom_keyword!(name);
    syn::custom_keyword!(op);
    syn::custom_keyword!(method);
    syn::custom_keyword!(endpoint);
    syn::custom_keyword!(operation);
    syn::custom_keyword!(table);
}

/// HTTP methods accepted by `#[track_api_request(method = "…")]`; `ANY` is the default.
const HTTP_METHODS: &[&str] = &[
    "GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS", "TRACE", "CONNECT", "ANY",
];

/// Arguments of `#[monitor_api_endpoint(name = "…", op = "…", fields(arg, …))]`.
pub(crate) struct EndpointArgs {
    pub name: Option<LitStr>,
    pub op: Option<LitStr>,
    /// Function arguments whose `Debug` form goes into the call's Sentry context `arguments`.
    pub fields: Vec<Ident>,
}

/// Arguments of `#[track_api_request(method = "…", endpoint = "…")]` or `("GET", "/shops")`.
pub(crate) struct RequestArgs {
    pub method: Option<LitStr>,
    pub endpoint: Option<LitStr>,
}

/// Arguments of `#[track_database_query("select", "shops")]`, both required.
pub(crate) struct QueryArgs {
    pub operation: LitStr,
    pub table: LitStr,
}

impl Parse for EndpointArgs {
    fn parse(input: ParseStream) -> syn::Result<Self> {
        const ATTR: &str = "monitor_api_endpoint";
        let raw: RawArgs = input.parse()?;
        let mut errors = Errors::default();
        let mut name = Slot::new("name", Value::Text);
        let mut op = Slot::new("op", Value::Label);
        let mut fields: Option<Vec<Ident>> = None;
        for arg in &raw.args {
            match arg {
                RawArg::Named {
                    key: Key::Name(k),
                    value,
                } => name.named(k.span, value, &mut errors),
                RawArg::Named {
                    key: Key::Op(k),
                    value,
                } => op.named(k.span, value, &mut errors),
                RawArg::Named { key, .. } => {
                    errors.push(unknown_argument(ATTR, key, &["name", "op", "fields"]));
                }
                RawArg::Positional(Expr::Call(call)) if is_ident(&call.func, "fields") => {
                    if fields.is_some() {
                        errors.push(syn::Error::new_spanned(
                            &call.func,
                            "duplicate argument `fields`",
                        ));
                    }
                    fields = Some(field_names(call, &mut errors));
                }
                RawArg::Positional(value) => errors.push(syn::Error::new_spanned(
                    value,
                    "`monitor_api_endpoint` takes named arguments `name = \"…\"` and \
                     `op = \"…\"`, and `fields(argument, …)`",
                )),
            }
        }
        errors.finish(EndpointArgs {
            name: name.value,
            op: op.value,
            fields: fields.unwrap_or_default(),
        })
    }
}

impl Parse for RequestArgs {
    fn parse(input: ParseStream) -> syn::Result<Self> {
        const ATTR: &str = "track_api_request";
        let raw: RawArgs = input.parse()?;
        let mut errors = Errors::default();
        let mut method = Slot::new("method", Value::Method);
        let mut endpoint = Slot::new("endpoint", Value::Label);
        for (position, arg) in raw.positioned(&mut errors) {
            match (position, arg) {
                (
                    _,
                    RawArg::Named {
                        key: Key::Method(k),
                        value,
                    },
                ) => {
                    method.named(k.span, value, &mut errors);
                }
                (
                    _,
                    RawArg::Named {
                        key: Key::Endpoint(k),
                        value,
                    },
                ) => {
                    endpoint.named(k.span, value, &mut errors);
                }
                (_, RawArg::Named { key, .. }) => {
                    errors.push(unknown_argument(ATTR, key, &["method", "endpoint"]));
                }
                (Some(0), RawArg::Positional(value)) => method.positional(value, &mut errors),
                (Some(1), RawArg::Positional(value)) => endpoint.positional(value, &mut errors),
                (_, RawArg::Positional(value)) => errors.push(syn::Error::new_spanned(
                    value,
                    "unexpected third positional argument; `track_api_request` takes at most \
                     two: the method and the endpoint, as in `(\"GET\", \"/shops\")`",
                )),
            }
        }
        errors.finish(RequestArgs {
            method: method.value,
            endpoint: endpoint.value,
        })
    }
}

impl Parse for QueryArgs {
    fn parse(input: ParseStream) -> syn::Result<Self> {
        const ATTR: &str = "track_database_query";
        let raw: RawArgs = input.parse()?;
        let mut errors = Errors::default();
        let mut operation = Slot::new("operation", Value::Label);
        let mut table = Slot::new("table", Value::Label);
        for (position, arg) in raw.positioned(&mut errors) {
            match (position, arg) {
                (
                    _,
                    RawArg::Named {
                        key: Key::Operation(k),
                        value,
                    },
                ) => {
                    operation.named(k.span, value, &mut errors);
                }
                (
                    _,
                    RawArg::Named {
                        key: Key::Table(k),
                        value,
                    },
                ) => {
                    table.named(k.span, value, &mut errors);
                }
                (_, RawArg::Named { key, .. }) => {
                    errors.push(unknown_argument(ATTR, key, &["operation", "table"]));
                }
                (Some(0), RawArg::Positional(value)) => operation.positional(value, &mut errors),
                (Some(1), RawArg::Positional(value)) => table.positional(value, &mut errors),
                (_, RawArg::Positional(value)) => errors.push(syn::Error::new_spanned(
                    value,
                    "unexpected third positional argument; `track_database_query` takes two: \
                     the operation and the table, as in `(\"select\", \"shops\")`",
                )),
            }
        }
        let missing = match (operation.seen, table.seen) {
            (false, false) => Some("arguments `operation` and `table`"),
            (false, true) => Some("argument `operation`"),
            (true, false) => Some("argument `table`"),
            (true, true) => None,
        };
        if let Some(missing) = missing {
            errors.push(raw.error(format!(
                "missing {missing}; expected `#[track_database_query(\"select\", \"shops\")]` \
                 or `#[track_database_query(operation = \"select\", table = \"shops\")]`"
            )));
        }
        match (operation.value, table.value) {
            (Some(operation), Some(table)) => errors.finish(QueryArgs { operation, table }),
            _ => Err(errors.into_error(|| raw.error("invalid `track_database_query` arguments"))),
        }
    }
}

fn is_ident(expr: &Expr, name: &str) -> bool {
    matches!(expr, Expr::Path(path) if path.qself.is_none() && path.path.is_ident(name))
}

/// The argument names in `fields(a, b)`: each must be a plain identifier, at most once.
fn field_names(call: &syn::ExprCall, errors: &mut Errors) -> Vec<Ident> {
    let mut names: Vec<Ident> = Vec::new();
    if call.args.is_empty() {
        errors.push(syn::Error::new_spanned(
            call,
            "`fields()` is empty; name the arguments to capture, as in `fields(shop_id)`",
        ));
    }
    for arg in &call.args {
        match arg {
            Expr::Path(path) if path.qself.is_none() && path.path.get_ident().is_some() => {
                let ident = path
                    .path
                    .get_ident()
                    .cloned()
                    .unwrap_or_else(|| Ident::new("_", Span::call_site()));
                if names.contains(&ident) {
                    errors.push(syn::Error::new_spanned(
                        &ident,
                        format!("`{ident}` is listed twice in `fields`"),
                    ));
                } else {
                    names.push(ident);
                }
            }
            other => errors.push(syn::Error::new_spanned(
                other,
                "expected an argument name in `fields(…)`, as in `fields(shop_id, filter)`",
            )),
        }
    }
    names
}

/// The arguments as written: comma-separated `key = value` pairs and positional values.
struct RawArgs {
    /// The whole list, to point errors about it (a missing argument) at all of it.
    tokens: TokenStream,
    args: Punctuated<RawArg, Token![,]>,
}

enum RawArg {
    Named { key: Key, value: Expr },
    Positional(Expr),
}

/// An argument name; every attribute accepts some of these and reports the rest as unknown.
enum Key {
    Name(kw::name),
    Op(kw::op),
    Method(kw::method),
    Endpoint(kw::endpoint),
    Operation(kw::operation),
    Table(kw::table),
    Unknown(Ident),
}

impl Parse for RawArgs {
    fn parse(input: ParseStream) -> syn::Result<Self> {
        let tokens = input.cursor().token_stream();
        let mut args = Punctuated::new();
        while !input.is_empty() {
            let arg: RawArg = input.parse()?;
            if !input.is_empty() && !input.peek(Token![,]) {
                return Err(arg.missing_separator(input));
            }
            args.push_value(arg);
            if let Some(comma) = input.parse()? {
                args.push_punct(comma);
            }
        }
        Ok(RawArgs { tokens, args })
    }
}

impl Parse for RawArg {
    fn parse(input: ParseStream) -> syn::Result<Self> {
        let named = input.peek(Ident::peek_any)
            && (input.peek2(Token![=]) && !input.peek2(Token![==])
                || input.peek2(Token![:]) && !input.peek2(Token![::]));
        if named {
            let key: Key = input.parse()?;
            if input.peek(Token![:]) {
                return Err(input.error(format!(
                    "expected `=` after `{}`; arguments are written `key = \"value\"`",
                    key.ident()
                )));
            }
            input.parse::<Token![=]>()?;
            let value = input.parse()?;
            Ok(RawArg::Named { key, value })
        } else {
            input.parse().map(RawArg::Positional)
        }
    }
}

impl RawArg {
    /// The error for an argument followed by something else than `,`: most likely a key
    /// without its `=`, as in `method "GET"`.
    fn missing_separator(&self, input: ParseStream) -> syn::Error {
        match self {
            RawArg::Positional(Expr::Path(path)) if path.path.get_ident().is_some() => {
                let key = path
                    .path
                    .get_ident()
                    .map(ToString::to_string)
                    .unwrap_or_default();
                input.error(format!(
                    "expected `=` after `{key}`; arguments are written `key = \"value\"`"
                ))
            }
            _ => input.error("expected `,` between arguments"),
        }
    }
}

impl Parse for Key {
    fn parse(input: ParseStream) -> syn::Result<Self> {
        let lookahead = input.lookahead1();
        if lookahead.peek(kw::name) {
            input.parse().map(Key::Name)
        } else if lookahead.peek(kw::op) {
            input.parse().map(Key::Op)
        } else if lookahead.peek(kw::method) {
            input.parse().map(Key::Method)
        } else if lookahead.peek(kw::endpoint) {
            input.parse().map(Key::Endpoint)
        } else if lookahead.peek(kw::operation) {
            input.parse().map(Key::Operation)
        } else if lookahead.peek(kw::table) {
            input.parse().map(Key::Table)
        } else if input.peek(Ident::peek_any) {
            Ident::parse_any(input).map(Key::Unknown)
        } else {
            Err(lookahead.error())
        }
    }
}

impl Key {
    fn ident(&self) -> Ident {
        match self {
            Key::Name(k) => Ident::new("name", k.span),
            Key::Op(k) => Ident::new("op", k.span),
            Key::Method(k) => Ident::new("method", k.span),
            Key::Endpoint(k) => Ident::new("endpoint", k.span),
            Key::Operation(k) => Ident::new("operation", k.span),
            Key::Table(k) => Ident::new("table", k.span),
            Key::Unknown(ident) => ident.clone(),
        }
    }
}

impl RawArgs {
    /// An error about the argument list as a whole; on the attribute itself if the list is empty.
    fn error(&self, message: impl std::fmt::Display) -> syn::Error {
        if self.tokens.is_empty() {
            syn::Error::new(Span::call_site(), message)
        } else {
            syn::Error::new_spanned(&self.tokens, message)
        }
    }

    /// Pairs every argument with its position among the positional ones (`None` for named
    /// arguments), and reports positional arguments written after named ones.
    fn positioned(&self, errors: &mut Errors) -> Vec<(Option<usize>, &RawArg)> {
        let mut seen_named = false;
        let mut next_position = 0;
        let mut positioned = Vec::with_capacity(self.args.len());
        for arg in &self.args {
            match arg {
                RawArg::Named { .. } => {
                    seen_named = true;
                    positioned.push((None, arg));
                }
                RawArg::Positional(value) if seen_named => errors.push(syn::Error::new_spanned(
                    value,
                    "positional arguments must come before named arguments",
                )),
                RawArg::Positional(_) => {
                    positioned.push((Some(next_position), arg));
                    next_position += 1;
                }
            }
        }
        positioned
    }
}

fn unknown_argument(attr: &str, key: &Key, known: &[&str]) -> syn::Error {
    let ident = key.ident();
    let quoted: Vec<String> = known.iter().map(|k| format!("`{k}`")).collect();
    let known = match quoted.split_last() {
        Some((last, rest)) if !rest.is_empty() => format!("{} and {last}", rest.join(", ")),
        _ => quoted.join(""),
    };
    syn::Error::new(
        ident.span(),
        format!("unknown argument `{ident}` for `{attr}`; the known arguments are {known}"),
    )
}

/// What a value must look like.
#[derive(Clone, Copy)]
enum Value {
    /// A metric label or span op: non-empty, no whitespace or control characters.
    Label,
    /// Free text such as a transaction name (`GET /shops`): non-empty, no control characters,
    /// no leading or trailing whitespace.
    Text,
    /// An uppercase HTTP method from [`HTTP_METHODS`].
    Method,
}

/// One argument of an attribute: remembers whether and how it was given, to report duplicates.
struct Slot {
    key: &'static str,
    kind: Value,
    seen: bool,
    seen_positionally: bool,
    value: Option<LitStr>,
}

impl Slot {
    fn new(key: &'static str, kind: Value) -> Self {
        Slot {
            key,
            kind,
            seen: false,
            seen_positionally: false,
            value: None,
        }
    }

    fn named(&mut self, key_span: Span, value: &Expr, errors: &mut Errors) {
        if self.seen {
            let message = if self.seen_positionally {
                format!("`{}` is given both positionally and by name", self.key)
            } else {
                format!("duplicate argument `{}`", self.key)
            };
            errors.push(syn::Error::new(key_span, message));
            return;
        }
        self.seen = true;
        self.fill(value, errors);
    }

    fn positional(&mut self, value: &Expr, errors: &mut Errors) {
        self.seen = true;
        self.seen_positionally = true;
        self.fill(value, errors);
    }

    fn fill(&mut self, value: &Expr, errors: &mut Errors) {
        match string_literal(self.key, value).and_then(|lit| self.check(lit)) {
            Ok(lit) => self.value = Some(lit),
            Err(error) => errors.push(error),
        }
    }

    fn check(&self, lit: LitStr) -> syn::Result<LitStr> {
        let text = lit.value();
        let key = self.key;
        let problem = match self.kind {
            _ if text.is_empty() => Some(format!("`{key}` must not be empty")),
            Value::Label if text.chars().any(|c| c.is_whitespace() || c.is_control()) => {
                Some(format!(
                    "`{key}` must not contain whitespace or control characters, found {text:?}"
                ))
            }
            Value::Text if text.chars().any(char::is_control) => Some(format!(
                "`{key}` must not contain control characters, found {text:?}"
            )),
            Value::Text if text.trim() != text => Some(format!(
                "`{key}` must not start or end with whitespace, found {text:?}"
            )),
            Value::Method if !HTTP_METHODS.contains(&text.as_str()) => Some(unknown_method(&text)),
            _ => None,
        };
        match problem {
            Some(message) => Err(syn::Error::new(lit.span(), message)),
            None => Ok(lit),
        }
    }
}

fn unknown_method(text: &str) -> String {
    let upper = text.to_ascii_uppercase();
    if HTTP_METHODS.contains(&upper.as_str()) {
        format!("unknown HTTP method `{text}`; methods are uppercase: did you mean `{upper}`?")
    } else {
        let known = HTTP_METHODS
            .iter()
            .map(|m| format!("`{m}`"))
            .collect::<Vec<_>>()
            .join(", ");
        format!("unknown HTTP method `{text}`; expected one of {known}")
    }
}

/// The string literal `value` must be, or an error saying what was found instead.
fn string_literal(key: &str, value: &Expr) -> syn::Result<LitStr> {
    let found = match value {
        // `$value:expr` forwarded by a `macro_rules!` macro arrives in an invisible group.
        Expr::Group(group) => return string_literal(key, &group.expr),
        Expr::Lit(expr) => match &expr.lit {
            Lit::Str(lit) if lit.suffix().is_empty() => return Ok(lit.clone()),
            Lit::Str(_) => "a string literal with a suffix",
            Lit::ByteStr(_) => "a byte string literal",
            Lit::CStr(_) => "a C string literal",
            Lit::Byte(_) => "a byte literal",
            Lit::Char(_) => "a character literal",
            Lit::Int(_) => "an integer literal",
            Lit::Float(_) => "a float literal",
            Lit::Bool(_) => "a boolean literal",
            _ => "a literal of another type",
        },
        Expr::Path(path) if key == "method" && path.path.get_ident().is_some() => {
            let ident = path
                .path
                .get_ident()
                .map(ToString::to_string)
                .unwrap_or_default();
            return Err(syn::Error::new_spanned(
                value,
                format!(
                    "expected a string literal for `method`, found the identifier `{ident}`; \
                     write it in quotes: `method = \"{ident}\"`"
                ),
            ));
        }
        Expr::Path(_) => {
            "a path; the value must be a literal, the macro cannot see constants or variables"
        }
        Expr::Call(_) => "a call; arguments are written `key = \"value\"`",
        Expr::Macro(_) => "a macro call, which is not expanded inside attribute arguments",
        _ => "an expression; the value must be a literal known when the macro expands",
    };
    Err(syn::Error::new_spanned(
        value,
        format!("expected a string literal for `{key}`, found {found}"),
    ))
}

/// Collects every error found in an attribute and its function, to report them all at once.
#[derive(Default)]
pub(crate) struct Errors(Option<syn::Error>);

impl Errors {
    pub(crate) fn push(&mut self, error: syn::Error) {
        match &mut self.0 {
            Some(errors) => errors.combine(error),
            None => self.0 = Some(error),
        }
    }

    /// `Ok(value)` if no error was pushed.
    pub(crate) fn finish<T>(self, value: T) -> syn::Result<T> {
        match self.0 {
            Some(error) => Err(error),
            None => Ok(value),
        }
    }

    /// The collected errors, or `fallback()` if there were none.
    fn into_error(self, fallback: impl FnOnce() -> syn::Error) -> syn::Error {
        self.0.unwrap_or_else(fallback)
    }
}
