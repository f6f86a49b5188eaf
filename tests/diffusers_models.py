"""Tiny random-weight Wan pipelines, built from configs and saved offline.

Each builder makes a pipeline small enough to denoise 9 frames of 32x32 in two steps in well under
a second on a laptop CPU, seeds every random initialisation (the same call gives the same weights),
saves it with ``save_pretrained`` and returns the directory. The directory loads back with the
pipeline's own class or with ``DiffusionPipeline.from_pretrained`` and needs no network (nothing
refers to the model hub: the tokenizer is built in memory with the ``tokenizers`` library).

The sizes that matter to callers:

- the VAE compresses 4x in time and 8x in space (``temperal_downsample=[False, True, True]``), and
  the transformer's patch is (1, 2, 2): frames must be ``4k + 1``, width and height multiples of 16;
- positions go up to 32 latent frames / half-latent rows / half-latent columns
  (``rope_max_seq_len=32``): up to 125 frames and 512 x 512 pixels;
- the text encoder's width is :data:`TEXT_DIM`, so prompt embeddings are ``(1, L, TEXT_DIM)``;
  characters outside printable ASCII become ``<unk>``;
- everything is float32 (the dtype the weights are saved in);
- transformers 5 saves the tokenizer as ``TokenizersBackend``: loading needs transformers >= 5.

Layouts: :func:`build_t2v` is Wan 2.1 T2V; :func:`build_i2v` defaults to Wan 2.1 FLF2V (CLIP image
encoder, ``image`` and ``last_image`` both required) and offers the Wan 2.1 I2V and Wan 2.2 A14B
layouts; :func:`build_vace` is Wan 2.1 VACE.

torch, diffusers and transformers are imported inside the builders, so importing this module costs
nothing for tests that never build a pipeline.
"""

from __future__ import annotations

import string
from pathlib import Path
from typing import Any, Literal, get_args

#: The width of the tiny text encoder's output (``text_dim`` of the transformers).
TEXT_DIM = 32
#: The width of the tiny CLIP vision encoder's hidden states (``image_dim`` of the I2V transformer).
IMAGE_DIM = 8
#: The tiny CLIP's input size and patch: (32 / 8) ** 2 patches + the class token.
CLIP_SIZE, CLIP_PATCH = 32, 8
CLIP_TOKENS = (CLIP_SIZE // CLIP_PATCH) ** 2 + 1
#: The smallest useful video: 9 frames (3 latent frames) of 32x32 (4x4 latents, 2x2 patches).
SMALL_VIDEO = {"num_frames": 9, "height": 32, "width": 32}

_PAD, _EOS, _UNK = "<pad>", "</s>", "<unk>"


def _seed(seed: int) -> None:
    import torch

    torch.manual_seed(seed)


def _tokenizer() -> Any:
    """A word-level tokenizer whose words are single characters, built in memory.

    Splitting into characters gives every printable ASCII prompt its own token ids (a vocabulary of
    whole words would map most prompts to ``<unk>``, and a test comparing two prompts would then
    compare equal embeddings). ``</s>`` is appended like T5 does, ``<pad>`` is id 0 like UMT5's, so
    ``tokenizer(..., padding="max_length", max_length=n, truncation=True,
    return_attention_mask=True)`` behaves as the Wan pipelines expect.
    """
    from tokenizers import Regex, Tokenizer, models, pre_tokenizers, processors
    from transformers import PreTrainedTokenizerFast

    symbols = [c for c in string.printable if not c.isspace()]
    vocab = {_PAD: 0, _EOS: 1, _UNK: 2} | {c: i + 3 for i, c in enumerate(symbols)}
    tokenizer = Tokenizer(models.WordLevel(vocab=vocab, unk_token=_UNK))
    tokenizer.pre_tokenizer = pre_tokenizers.Sequence(
        [pre_tokenizers.WhitespaceSplit(), pre_tokenizers.Split(Regex("."), behavior="isolated")]
    )
    tokenizer.post_processor = processors.TemplateProcessing(
        single=f"$A {_EOS}", pair=f"$A {_EOS} $B {_EOS}", special_tokens=[(_EOS, 1)]
    )
    return PreTrainedTokenizerFast(
        tokenizer_object=tokenizer,
        pad_token=_PAD,
        eos_token=_EOS,
        unk_token=_UNK,
        model_max_length=512,
    )


def _text_encoder() -> Any:
    """A one-layer UMT5 encoder (the family Wan's umt5-xxl belongs to), ``TEXT_DIM`` wide."""
    from transformers import UMT5Config, UMT5EncoderModel

    _seed(0)
    config = UMT5Config(
        vocab_size=128,
        d_model=TEXT_DIM,
        d_kv=8,
        d_ff=32,
        num_layers=1,
        num_heads=2,
        relative_attention_num_buckets=8,
        relative_attention_max_distance=32,
        dropout_rate=0.0,
        is_encoder_decoder=False,
        use_cache=False,
    )
    return UMT5EncoderModel(config).eval()


def _vae() -> Any:
    """The smallest AutoencoderKLWan of diffusers' own tests: 4x in time, 8x in space, z_dim 16."""
    from diffusers import AutoencoderKLWan

    _seed(0)
    return AutoencoderKLWan(
        base_dim=3,
        z_dim=16,
        dim_mult=[1, 1, 1, 1],
        num_res_blocks=1,
        temperal_downsample=[False, True, True],
    )


def _scheduler() -> Any:
    """UniPC with flow prediction, the scheduler the released Wan 2.1 checkpoints ship with."""
    from diffusers import UniPCMultistepScheduler

    return UniPCMultistepScheduler(
        prediction_type="flow_prediction",
        use_flow_sigmas=True,
        num_train_timesteps=1000,
        flow_shift=3.0,
    )


def _transformer_config(in_channels: int) -> dict[str, Any]:
    return {
        "patch_size": (1, 2, 2),
        "num_attention_heads": 2,
        "attention_head_dim": 12,
        "in_channels": in_channels,
        "out_channels": 16,
        "text_dim": TEXT_DIM,
        "freq_dim": 32,
        "ffn_dim": 32,
        "num_layers": 2,
        "cross_attn_norm": True,
        "qk_norm": "rms_norm_across_heads",
        "rope_max_seq_len": 32,
    }


def _save(pipe: Any, directory: Path) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    pipe.save_pretrained(directory)
    return directory


def build_t2v(directory: Path) -> Path:
    """A tiny ``WanPipeline`` (Wan 2.1 text-to-video layout), saved to ``directory``."""
    from diffusers import WanPipeline, WanTransformer3DModel

    _seed(0)
    transformer = WanTransformer3DModel(**_transformer_config(in_channels=16))
    pipe = WanPipeline(
        tokenizer=_tokenizer(),
        text_encoder=_text_encoder(),
        vae=_vae(),
        scheduler=_scheduler(),
        transformer=transformer,
    )
    return _save(pipe, directory)


I2VLayout = Literal["wan2.1-flf2v", "wan2.1-i2v", "wan2.2-a14b"]


def build_i2v(directory: Path, *, layout: I2VLayout = "wan2.1-flf2v") -> Path:
    """A tiny ``WanImageToVideoPipeline``, saved to ``directory``.

    Three layouts, as the released checkpoints have them (diffusers 0.42 decides what a pipeline
    accepts from the transformer's config, not from a flag):

    - ``"wan2.1-flf2v"`` (default; Wan2.1-FLF2V-14B): a CLIP vision encoder whose features of the
      first *and* last frame are concatenated by the transformer (``pos_embed_seq_len`` = twice
      the CLIP token count). It needs ``last_image`` on every call: with ``image`` alone the
      transformer cannot reshape the single image's features and fails.
    - ``"wan2.1-i2v"`` (Wan2.1-I2V-14B-480P/720P): the same without ``pos_embed_seq_len``. It takes
      ``image`` only: with ``last_image`` the pipeline encodes two images and the transformer fails
      on the batch mismatch.
    - ``"wan2.2-a14b"`` (Wan2.2-I2V-A14B): no image encoder (``image_dim`` unset); the first/last
      frames reach the transformer only through the 20 mask+latent channels. ``last_image`` is
      optional. Two transformers with ``boundary_ratio=0.9``: the pipeline switches from
      ``transformer`` to ``transformer_2`` below timestep 900 (the second of two steps already).

    All three read 36 channels (16 noisy latents + 4 mask + 16 encoded condition video). Wan 2.2
    TI2V-5B (``expand_timesteps``) is not offered: its ``prepare_latents`` ignores ``last_image``.

    The image encoder is a tiny ``CLIPVisionModel`` (the class the pipeline annotates); its
    processor is ``CLIPImageProcessorPil``: transformers 5 falls back to that PIL implementation
    anyway when torchvision is missing, and naming it directly keeps the saved pipeline loadable and
    runnable with or without torchvision.
    """
    import transformers
    from diffusers import WanImageToVideoPipeline, WanTransformer3DModel
    from transformers import CLIPVisionConfig, CLIPVisionModel

    config = _transformer_config(in_channels=36)
    parts: dict[str, Any] = {}
    if layout == "wan2.2-a14b":
        _seed(0)
        parts["transformer"] = WanTransformer3DModel(**config)
        _seed(1)
        parts["transformer_2"] = WanTransformer3DModel(**config)
        parts["boundary_ratio"] = 0.9
    elif layout in ("wan2.1-flf2v", "wan2.1-i2v"):
        pos_embed = {"pos_embed_seq_len": 2 * CLIP_TOKENS} if layout == "wan2.1-flf2v" else {}
        _seed(0)
        parts["transformer"] = WanTransformer3DModel(**config, image_dim=IMAGE_DIM, **pos_embed)
        _seed(0)
        parts["image_encoder"] = CLIPVisionModel(
            CLIPVisionConfig(
                hidden_size=IMAGE_DIM,
                projection_dim=IMAGE_DIM,
                num_hidden_layers=2,
                num_attention_heads=2,
                intermediate_size=16,
                image_size=CLIP_SIZE,
                patch_size=CLIP_PATCH,
            )
        ).eval()
        processor_class = getattr(transformers, "CLIPImageProcessorPil", None)
        if processor_class is None:  # transformers 4: the PIL/numpy processor is the plain one
            processor_class = transformers.CLIPImageProcessor
        parts["image_processor"] = processor_class(
            size={"shortest_edge": CLIP_SIZE}, crop_size={"height": CLIP_SIZE, "width": CLIP_SIZE}
        )
    else:
        raise ValueError(f"layout must be one of {get_args(I2VLayout)}, not {layout!r}")
    pipe = WanImageToVideoPipeline(
        tokenizer=_tokenizer(),
        text_encoder=_text_encoder(),
        vae=_vae(),
        scheduler=_scheduler(),
        **parts,
    )
    return _save(pipe, directory)


def build_vace(directory: Path) -> Path:
    """A tiny ``WanVACEPipeline`` (two blocks, VACE hints into both), saved to ``directory``.

    ``vace_in_channels`` is 96: the inactive and reactive halves of the control video (16 latent
    channels each) and the 8x8 mask folded into 64 channels.
    """
    from diffusers import WanVACEPipeline, WanVACETransformer3DModel

    _seed(0)
    transformer = WanVACETransformer3DModel(
        **_transformer_config(in_channels=16), vace_layers=[0, 1], vace_in_channels=96
    )
    pipe = WanVACEPipeline(
        tokenizer=_tokenizer(),
        text_encoder=_text_encoder(),
        vae=_vae(),
        scheduler=_scheduler(),
        transformer=transformer,
    )
    return _save(pipe, directory)
