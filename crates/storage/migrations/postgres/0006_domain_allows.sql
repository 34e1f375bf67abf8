-- Domains federation is limited to under LIMITED_FEDERATION_MODE (Mastodon's DomainAllow).
CREATE TABLE domain_allows (
    domain TEXT PRIMARY KEY,
    created_at BIGINT NOT NULL
);
