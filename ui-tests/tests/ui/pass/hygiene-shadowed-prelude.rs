#![deny(unused_qualifications)]

// Names the expansion must not pick up from the user's scope.
#[allow(dead_code)]
struct Result;
#[allow(dead_code)]
type Option = u8;
#[allow(dead_code)]
struct Box;
#[allow(dead_code)]
struct Some;
#[allow(dead_code)]
struct None;
#[allow(dead_code)]
struct Ok;
#[allow(dead_code)]
struct Err;
#[allow(dead_code, non_camel_case_types)]
struct core;
#[allow(dead_code, non_camel_case_types)]
struct std;

#[kansoku::track_api_request(method = "GET", endpoint = "/shops")]
async fn get_shops() -> ::core::result::Result<u32, ::std::num::ParseIntError> {
    "1".parse()
}

#[kansoku::track_database_query("select", "shops")]
fn count() -> u32 {
    1
}

#[kansoku::monitor_api_endpoint(name = "x", op = "y")]
fn maybe() -> ::core::option::Option<u32> {
    ::core::option::Option::Some(1)
}

#[tokio::main]
async fn main() {
    assert_eq!(get_shops().await.ok(), ::core::option::Option::Some(1));
    assert_eq!(count(), 1);
    assert_eq!(maybe(), ::core::option::Option::Some(1));
}
