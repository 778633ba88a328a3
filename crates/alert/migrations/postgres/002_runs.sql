-- Run records of the scheduler (`vigil serve`), one row per run: what runs.jsonl holds on a
-- single node, here so every API process shows them.
CREATE TABLE runs (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    detections TEXT[] NOT NULL,
    json TEXT NOT NULL,
    recorded TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX runs_detections ON runs USING GIN (detections);
