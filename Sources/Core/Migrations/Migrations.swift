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
        Migration(version: 2, name: "analytics", sql: """
            -- Token accounting per translation, so cost per post is a row, not a log line.
            ALTER TABLE mirror.translations
                ADD COLUMN cache_write_tokens integer NOT NULL DEFAULT 0,
                ADD COLUMN cache_read_tokens integer NOT NULL DEFAULT 0,
                ADD COLUMN requests integer NOT NULL DEFAULT 0,
                ADD COLUMN cost_usd numeric(14, 6) NOT NULL DEFAULT 0;

            -- An operator may skip a post for a route: it is then treated as done and never published.
            ALTER TABLE mirror.publications DROP CONSTRAINT publications_state_check;
            ALTER TABLE mirror.publications ADD CONSTRAINT publications_state_check
                CHECK (state IN ('publishing', 'published', 'skipped'));

            CREATE INDEX events_post_id ON mirror.events (post_id) WHERE post_id IS NOT NULL;

            -- Every run of every command: what `status` shows as each job's last run. A row without
            -- finished_at belongs to a run still going or one that died.
            CREATE TABLE mirror.job_runs (
                id bigserial PRIMARY KEY,
                job text NOT NULL,
                host text NOT NULL,
                pid integer NOT NULL,
                started_at timestamptz NOT NULL DEFAULT now(),
                finished_at timestamptz,
                outcome text,
                summary text,
                error text
            );
            CREATE INDEX job_runs_job_started ON mirror.job_runs (job, started_at DESC);

            -- Hours (UTC) holding events that the rollups may not reflect yet: one mark per writing statement
            -- and hour, inserted by the trigger below in the writer's own transaction. Marks are append-only
            -- (no unique key), so writers never wait on each other or on an aggregator, and a mark becomes
            -- visible to aggregators only when its events do: an event can never be committed unmarked, and
            -- a late event re-opens the hour it belongs to.
            CREATE TABLE mirror.analytics_dirty_hours (
                id bigserial PRIMARY KEY,
                hour timestamptz NOT NULL
            );
            CREATE INDEX analytics_dirty_hours_hour ON mirror.analytics_dirty_hours (hour);
            CREATE FUNCTION mirror.mark_event_hours() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                INSERT INTO mirror.analytics_dirty_hours (hour)
                SELECT DISTINCT date_trunc('hour', occurred_at, 'UTC') FROM new_events;
                RETURN NULL;
            END
            $$;
            CREATE TRIGGER events_mark_dirty_hours AFTER INSERT ON mirror.events
                REFERENCING NEW TABLE AS new_events FOR EACH STATEMENT EXECUTE FUNCTION mirror.mark_event_hours();
            -- Events written before this migration are rolled up by the first aggregate-analytics run.
            INSERT INTO mirror.analytics_dirty_hours (hour)
            SELECT DISTINCT date_trunc('hour', occurred_at, 'UTC') FROM mirror.events;

            -- Hourly and daily (UTC) figures per route. route_id 0 holds all routes together: one
            -- translation serves every route of its language, so totals are not sums of routes.
            CREATE TABLE mirror.analytics_rollups (
                granularity text NOT NULL CHECK (granularity IN ('hour', 'day')),
                bucket_start timestamptz NOT NULL,
                route_id bigint NOT NULL,
                fetched integer NOT NULL,
                translated integer NOT NULL,
                published integer NOT NULL,
                failed integer NOT NULL,
                parked integer NOT NULL,
                tm_hits integer NOT NULL,
                requests integer NOT NULL,
                input_tokens bigint NOT NULL,
                output_tokens bigint NOT NULL,
                cache_write_tokens bigint NOT NULL,
                cache_read_tokens bigint NOT NULL,
                cost_usd numeric(18, 6) NOT NULL,
                latency_p50_s double precision,
                latency_p95_s double precision,
                latency_max_s double precision,
                computed_at timestamptz NOT NULL DEFAULT now(),
                PRIMARY KEY (granularity, bucket_start, route_id)
            );
            """),
        Migration(version: 3, name: "telegram", sql: """
            -- The source's link preview choice (Bot API sources say it; exports do not).
            ALTER TABLE mirror.posts ADD COLUMN link_preview jsonb;

            -- 'uncertain': a send was interrupted without an answer, so nobody knows whether it arrived;
            -- 'failed': the destination refused the unit for good (resending the same payload cannot work).
            -- Both wait for the operator (retry sends again, skip accepts it as it is) and the route goes on.
            ALTER TABLE mirror.publications DROP CONSTRAINT publications_state_check;
            ALTER TABLE mirror.publications ADD CONSTRAINT publications_state_check
                CHECK (state IN ('publishing', 'published', 'skipped', 'uncertain', 'failed'));
            -- The API call of the unit's plan that is being made right now; committed before the call and
            -- cleared with its result, so a crash leaves exactly the one call whose outcome is unknown.
            ALTER TABLE mirror.publications ADD COLUMN sending_step integer, ADD COLUMN note text;
            -- The run that holds a 'publishing' claim (it refreshes updated_at while it works), and the run
            -- editing a published post; every write of a claim is guarded by its holder, so a run that lost
            -- its claim to another can never record over it.
            ALTER TABLE mirror.publications ADD COLUMN claimed_by text, ADD COLUMN editing_by text, ADD COLUMN editing_at timestamptz,
                ADD COLUMN plan_hash text;
            CREATE INDEX publications_publishing ON mirror.publications (route_id, updated_at) WHERE state = 'publishing';

            -- Every destination message a source post produced (text chunks, album items, caption
            -- continuations), committed right after the call that created it, so a unit interrupted
            -- half-way resumes with its next call instead of sending the first ones again.
            CREATE TABLE mirror.sent_messages (
                route_id bigint NOT NULL REFERENCES mirror.routes (id) ON DELETE CASCADE,
                post_id bigint NOT NULL REFERENCES mirror.posts (id) ON DELETE CASCADE,
                step integer NOT NULL,
                seq integer NOT NULL,
                chat text NOT NULL,
                message_id bigint NOT NULL,
                role text NOT NULL,
                content_hash text NOT NULL,
                plan_hash text NOT NULL DEFAULT '',
                sent_at timestamptz NOT NULL DEFAULT now(),
                PRIMARY KEY (route_id, post_id, step, seq)
            );
            -- Pacing counts the messages sent to one destination chat in the last minute, across runs and routes.
            CREATE INDEX sent_messages_chat_sent_at ON mirror.sent_messages (chat, sent_at);
            CREATE INDEX sent_messages_post ON mirror.sent_messages (post_id);

            -- Flood control: a wait longer than a run can afford is stored, and the route rests until then.
            ALTER TABLE mirror.routes ADD COLUMN retry_at timestamptz, ADD COLUMN retry_reason text;

            -- Edits: a post's content revision, and the revision each publication shows; publish edits the
            -- destination while they differ.
            ALTER TABLE mirror.posts ADD COLUMN revision integer NOT NULL DEFAULT 0;
            CREATE INDEX posts_edited ON mirror.posts (chat_id) WHERE revision > 0;
            ALTER TABLE mirror.publications ADD COLUMN revision integer NOT NULL DEFAULT 0;

            -- Readers whose position is not a message id (the Bot API's update offset), committed with the
            -- posts it delivered; last_success_at warns before Telegram's 24-hour update retention runs out.
            CREATE TABLE mirror.source_cursors (
                source text PRIMARY KEY,
                value bigint NOT NULL,
                last_success_at timestamptz NOT NULL DEFAULT now()
            );

            -- Ranges of message ids a lossy reader (the web preview) never saw, kept for the operator instead
            -- of skipped silently.
            CREATE TABLE mirror.source_gaps (
                chat_id bigint NOT NULL,
                from_id bigint NOT NULL,
                to_id bigint NOT NULL CHECK (to_id >= from_id),
                noted_at timestamptz NOT NULL DEFAULT now(),
                PRIMARY KEY (chat_id, from_id)
            );
            """),
        Migration(version: 4, name: "pgvector", sql: """
            -- The translation memory needs pgvector. Enabled where the server offers it (Supabase keeps
            -- extensions in their own schema); a server without it keeps working until that feature needs it,
            -- and `JobRunner doctor` says so.
            DO $$
            BEGIN
                IF EXISTS (SELECT 1 FROM pg_available_extensions WHERE name = 'vector') THEN
                    IF EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = 'extensions') THEN
                        CREATE EXTENSION IF NOT EXISTS vector WITH SCHEMA extensions;
                    ELSE
                        CREATE EXTENSION IF NOT EXISTS vector;
                    END IF;
                ELSE
                    RAISE NOTICE 'pgvector is not available on this server';
                END IF;
            END
            $$;
            """),
        Migration(version: 5, name: "leases", sql: """
            -- A job that works on a source or a route first holds its lease: one row, renewed by its holder while it
            -- works (a heartbeat), taken over only once expired (the holder died). Rows, not advisory locks, so
            -- it works through transaction-mode poolers.
            CREATE TABLE mirror.leases (
                name text PRIMARY KEY,
                holder text NOT NULL,
                acquired_at timestamptz NOT NULL DEFAULT now(),
                heartbeat_at timestamptz NOT NULL DEFAULT now(),
                expires_at timestamptz NOT NULL
            );
            """),
        Migration(version: 6, name: "translation_claims", sql: """
            -- A post being translated by a run, claimed in small batches with FOR UPDATE SKIP LOCKED so several
            -- runners split the backlog and no post is paid for twice; a claim of a run that died expires.
            CREATE TABLE mirror.translation_claims (
                post_id bigint NOT NULL REFERENCES mirror.posts (id) ON DELETE CASCADE,
                target_lang text NOT NULL,
                holder text NOT NULL,
                expires_at timestamptz NOT NULL,
                PRIMARY KEY (post_id, target_lang)
            );
            """),
        Migration(version: 7, name: "strict_order", sql: """
            -- A route in strict order never publishes past a post that is parked or set aside: it waits there
            -- for the operator, so the destination never shows a later post before an earlier one.
            ALTER TABLE mirror.routes ADD COLUMN strict_order boolean NOT NULL DEFAULT false;
            """),
        Migration(version: 8, name: "translation_quality_and_cost", sql: """
            -- The operator's term pairs, per language pair; a source term has one rendering (any letter case).
            CREATE TABLE mirror.glossary_terms (
                source_lang text NOT NULL,
                target_lang text NOT NULL,
                source_term text NOT NULL,
                target_term text NOT NULL,
                note text NOT NULL DEFAULT '',
                updated_at timestamptz NOT NULL DEFAULT now()
            );
            CREATE UNIQUE INDEX glossary_terms_pair_term ON mirror.glossary_terms (source_lang, target_lang, lower(source_term));

            -- One row per translation request: what it carried and what it cost (per post is in translations).
            CREATE TABLE mirror.translation_requests (
                id bigserial PRIMARY KEY,
                occurred_at timestamptz NOT NULL DEFAULT now(),
                translator text NOT NULL,
                target_lang text NOT NULL,
                via_batch boolean NOT NULL DEFAULT false,
                posts integer NOT NULL,
                translated integer NOT NULL,
                requests integer NOT NULL,
                input_tokens integer NOT NULL,
                output_tokens integer NOT NULL,
                cache_write_tokens integer NOT NULL,
                cache_read_tokens integer NOT NULL,
                cost_usd numeric(14, 6) NOT NULL
            );
            CREATE INDEX translation_requests_occurred_at ON mirror.translation_requests (occurred_at);

            -- Message Batches submitted for a backlog: one run submits, a later run collects by custom_id.
            CREATE TABLE mirror.translation_batches (
                id text PRIMARY KEY,
                target_lang text NOT NULL,
                translator text NOT NULL,
                submitted_at timestamptz NOT NULL DEFAULT now(),
                collected_at timestamptz,
                outcome text
            );
            CREATE TABLE mirror.translation_batch_items (
                batch_id text NOT NULL REFERENCES mirror.translation_batches (id) ON DELETE CASCADE,
                custom_id text NOT NULL,
                position integer NOT NULL,
                post_id bigint NOT NULL REFERENCES mirror.posts (id) ON DELETE CASCADE,
                target_lang text NOT NULL,
                -- The post's text as submitted; an edit while the batch runs makes its result stale.
                content_md5 text NOT NULL,
                PRIMARY KEY (batch_id, custom_id, position)
            );
            CREATE INDEX translation_batch_items_post ON mirror.translation_batch_items (post_id, target_lang);

            -- Parking is a state, not a count compared with a setting: a post is parked after
            -- TRANSLATE_MAX_ATTEMPTS attempts, or at once when retrying cannot help.
            ALTER TABLE mirror.translation_failures ADD COLUMN parked boolean NOT NULL DEFAULT false;
            UPDATE mirror.translation_failures SET parked = attempts >= 5;
            """),
    ]
}
