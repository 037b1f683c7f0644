"""Events and their contests, as organisers define them and the public reads them."""
