//! Prints the role x action matrix as Markdown (for the README).
fn main() {
    print!("{}", leitstand_core::access::matrix_markdown());
}
