-- Domains an account blocks (Mastodon's AccountDomainBlock): their posts leave its public
-- timelines and streams, their accounts no longer notify it, and its followers there are removed.
CREATE TABLE account_domain_blocks (
    id BIGINT PRIMARY KEY,
    account_id BIGINT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    domain TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE UNIQUE INDEX account_domain_blocks_account_domain ON account_domain_blocks (account_id, domain);
