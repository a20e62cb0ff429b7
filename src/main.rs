fn main() -> std::process::ExitCode {
    klachtd::cli::main()
}
