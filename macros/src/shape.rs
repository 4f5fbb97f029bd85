//! Recognises functions whose body builds a future instead of being one, such as the methods
//! `#[async_trait]` produces, so that the future itself is instrumented (as tracing-attributes
//! does) rather than its construction.

use syn::{Expr, GenericArgument, ItemFn, PathArguments, ReturnType, Stmt, Type, TypeParamBound};

/// How a non-`async` function returns the future it builds.
pub(crate) enum Tail {
    /// The tail was `Box::pin(FUTURE)` (what `#[async_trait]` expands an `async fn` into:
    /// `Box::pin(async move { … })`, or `Box::pin(Instrument::instrument(async move { … }, span))`
    /// when `#[tracing::instrument]` ran first). It is now `FUTURE`; this is the `Box::pin`.
    BoxPin(Expr),
    /// The tail is an `async` block (`move` or not) and the return type `impl Future`.
    Async,
}

/// The future a non-`async` function returns, if its body has one of the shapes of [`Tail`].
/// A `Box::pin` tail counts only when the return type names `Future<Output = …>` or the pinned
/// value is an `async` block: `Box::pin(Node { .. })` for a `Pin<Box<Self>>`, or a pinned
/// `Stream`, is not a future.
pub(crate) fn returned_future(function: &mut ItemFn) -> Option<Tail> {
    if function.sig.asyncness.is_some() {
        return None;
    }
    let (returns_impl_future, names_future) = match &function.sig.output {
        ReturnType::Type(_, ty) => (is_impl_future(ty), output_in_type(ty).is_some()),
        ReturnType::Default => (false, false),
    };
    let Stmt::Expr(tail, None) = function.block.stmts.last_mut()? else {
        return None;
    };
    match tail {
        Expr::Call(call) if call.args.len() == 1 && is_box_pin(&call.func) => {
            let pinned = call.args.first()?;
            if !(names_future || matches!(pinned, Expr::Async(_))) {
                return None;
            }
            let box_pin = (*call.func).clone();
            let pinned = call.args.pop()?.into_value();
            *tail = pinned;
            Some(Tail::BoxPin(box_pin))
        }
        Expr::Async(_) if returns_impl_future => Some(Tail::Async),
        _ => None,
    }
}

/// `T` in a return type such as `Pin<Box<dyn Future<Output = T> + Send + 'a>>` or
/// `impl Future<Output = T>`.
pub(crate) fn future_output(output: &ReturnType) -> Option<&Type> {
    match output {
        ReturnType::Type(_, ty) => output_in_type(ty),
        ReturnType::Default => None,
    }
}

fn output_in_type(ty: &Type) -> Option<&Type> {
    match ty {
        Type::Path(path) => output_in_path(&path.path),
        Type::TraitObject(object) => output_in_bounds(object.bounds.iter()),
        Type::ImplTrait(bounds) => output_in_bounds(bounds.bounds.iter()),
        Type::Paren(inner) => output_in_type(&inner.elem),
        Type::Group(inner) => output_in_type(&inner.elem),
        _ => None,
    }
}

fn output_in_bounds<'a>(mut bounds: impl Iterator<Item = &'a TypeParamBound>) -> Option<&'a Type> {
    bounds.find_map(|bound| match bound {
        TypeParamBound::Trait(bound) => output_in_path(&bound.path),
        _ => None,
    })
}

fn output_in_path(path: &syn::Path) -> Option<&Type> {
    path.segments.iter().find_map(|segment| {
        let PathArguments::AngleBracketed(arguments) = &segment.arguments else {
            return None;
        };
        arguments.args.iter().find_map(|argument| match argument {
            GenericArgument::AssocType(assoc)
                if segment.ident == "Future" && assoc.ident == "Output" =>
            {
                Some(&assoc.ty)
            }
            GenericArgument::Type(ty) => output_in_type(ty),
            _ => None,
        })
    })
}

fn is_impl_future(ty: &Type) -> bool {
    match ty {
        Type::ImplTrait(bounds) => bounds.bounds.iter().any(|bound| match bound {
            TypeParamBound::Trait(bound) => bound
                .path
                .segments
                .last()
                .is_some_and(|segment| segment.ident == "Future"),
            _ => false,
        }),
        Type::Paren(inner) => is_impl_future(&inner.elem),
        Type::Group(inner) => is_impl_future(&inner.elem),
        _ => false,
    }
}

/// `Box::pin`, `::std::boxed::Box::pin`, `alloc::boxed::Box::pin`, …
fn is_box_pin(func: &Expr) -> bool {
    let Expr::Path(path) = func else {
        return false;
    };
    let mut segments = path.path.segments.iter().rev();
    matches!(
        (segments.next(), segments.next()),
        (Some(pin), Some(boxed)) if pin.ident == "pin" && boxed.ident == "Box"
    )
}
