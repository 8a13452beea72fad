"""Payments services by sub-domain: ledger, payments (inbound), payouts (outbound), escrow (settlements),
callbacks (provider deliveries). Import from the sub-module you need."""
