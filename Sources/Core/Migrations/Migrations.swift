extension Migration {
    /// Every migration, in order. Append only.
    public static let all: [Migration] = [
        Migration(version: 1, name: "foundation", sql: """
            -- A route is identified by the channel it reads, not by where that channel is read from,
            -- so a new export file (or later another reader) of the same channel continues the same route.
            CREATE TABLE mirror.routes (
                id bigserial PRIMARY KEY,
                source text NOT NULL,
                source_chat_id bigint NOT NULL,
                destination text NOT NULL,
                target_lang text NOT NULL,
                enabled boolean NOT NULL DEFAULT true,
                last_published_message_id bigint,
                created_at timestamptz NOT NULL DEFAULT now(),
                UNIQUE (source_chat_id, destination, target_lang)
            );

            -- One row per source channel: the newest message id already imported.
            CREATE TABLE mirror.source_offsets (
                chat_id bigint PRIMARY KEY,
                last_message_id bigint NOT NULL,
                updated_at timestamptz NOT NULL DEFAULT now()
            );

            CREATE TABLE mirror.posts (
                id bigserial PRIMARY KEY,
                chat_id bigint NOT NULL,
                message_id bigint NOT NULL,
                posted_at timestamptz NOT NULL,
                edited_at timestamptz,
                text text NOT NULL,
                entities jsonb NOT NULL,
                media jsonb NOT NULL,
                album_id text,
                needs_translation boolean NOT NULL,
                fetched_at timestamptz NOT NULL DEFAULT now(),
                UNIQUE (chat_id, message_id)
            );

            CREATE TABLE mirror.translations (
                post_id bigint NOT NULL REFERENCES mirror.posts (id) ON DELETE CASCADE,
                target_lang text NOT NULL,
                text text NOT NULL,
                entities jsonb NOT NULL,
                translator text NOT NULL,
                input_tokens integer NOT NULL DEFAULT 0,
                output_tokens integer NOT NULL DEFAULT 0,
                created_at timestamptz NOT NULL DEFAULT now(),
                PRIMARY KEY (post_id, target_lang)
            );

            -- Failed translation attempts, so an operator sees why a post is waiting.
            CREATE TABLE mirror.translation_failures (
                post_id bigint NOT NULL REFERENCES mirror.posts (id) ON DELETE CASCADE,
                target_lang text NOT NULL,
                attempts integer NOT NULL,
                last_error text NOT NULL,
                updated_at timestamptz NOT NULL DEFAULT now(),
                PRIMARY KEY (post_id, target_lang)
            );

            -- state 'publishing' is committed before the destination is written, 'published' right after.
            CREATE TABLE mirror.publications (
                route_id bigint NOT NULL REFERENCES mirror.routes (id) ON DELETE CASCADE,
                post_id bigint NOT NULL REFERENCES mirror.posts (id) ON DELETE CASCADE,
                state text NOT NULL CHECK (state IN ('publishing', 'published')),
                destination_ids jsonb NOT NULL DEFAULT '[]',
                updated_at timestamptz NOT NULL DEFAULT now(),
                PRIMARY KEY (route_id, post_id)
            );

            CREATE TABLE mirror.events (
                id bigserial PRIMARY KEY,
                occurred_at timestamptz NOT NULL DEFAULT now(),
                kind text NOT NULL,
                route_id bigint,
                post_id bigint,
                detail jsonb NOT NULL DEFAULT '{}'
            );
            CREATE INDEX events_occurred_at ON mirror.events (occurred_at);
            """),
    ]
}
