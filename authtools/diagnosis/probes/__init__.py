"""One module per probe; see authtools.diagnosis for the protocol."""
