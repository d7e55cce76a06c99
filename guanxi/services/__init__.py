"""The application layer: what the API, the command line and batch jobs do, each as one function with a
typed result. Front ends parse their input, call one of these, and format what it returns."""
