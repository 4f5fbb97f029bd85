#![deny(unused_qualifications, unused_variables)]

// The user's own variables and statics, named like the generated ones, do not clash with them.
#[kansoku::track_api_request]
async fn shadowing(__kansoku_out: u32) -> u32 {
    static __KANSOKU_SITE: u32 = 1;
    let __kansoku_call = __kansoku_out + __KANSOKU_SITE;
    __kansoku_call
}

#[kansoku::track_api_request]
fn shadowing_sync(__kansoku_call: u32) -> u32 {
    let __kansoku_out = __kansoku_call * 2;
    __kansoku_out
}

#[tokio::main]
async fn main() {
    assert_eq!(shadowing(1).await, 2);
    assert_eq!(shadowing_sync(2), 4);
}
