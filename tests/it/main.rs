mod lab;

fn main() {}
