"""edgeward printer_sync: push renewed certificates to printers and prove they serve them."""
