struct Cart;

#[kansoku::monitor_api_endpoint(fields(cart))]
fn checkout(cart: Cart) -> Result<(), std::io::Error> {
    let Cart = cart;
    Ok(())
}

fn main() {}
