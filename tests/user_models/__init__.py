"""Models written without tradeoff_bench, adapted to the vad model contract (power spectrogram
(batch, 201, frames) -> one logit per frame (batch, frames)) by thin wrappers: the automatic knobs
(`tasks.user_model`) are tested on them as a user's model would be."""
