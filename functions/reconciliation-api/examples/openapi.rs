//! Prints the API's OpenAPI document, generated from its Rust types:
//! `cargo run -p reconciliation-api --example openapi > docs/openapi.json`.

fn main() {
    print!("{}", reconciliation_api::openapi::ApiDoc::json());
}
