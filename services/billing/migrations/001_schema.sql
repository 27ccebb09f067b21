-- The billing schema: plans, subscriptions, usage meters, invoices.
COMMENT ON SCHEMA billing IS 'billing: plans, subscriptions, usage meters, quotas, invoices';
