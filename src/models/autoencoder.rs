//! scGNN's feature autoencoder (spec §3), also used for the cluster and
//! imputation autoencoders (spec §7, §9): G → hidden → latent → hidden → G,
//! `Linear` layers with bias and a ReLU after every layer (including the
//! embedding and the output), Adam, and the weighted-SSE loss of spec §3.3/§9.2.

use crate::error::{Error, Result};
use crate::matrix::{Csr, Dense};
use crate::nn::layers::relu_backward;
use crate::nn::{batches, Adam, Linear, Penalty, WeightedSse};

/// Autoencoder hyper-parameters (scGNN defaults, spec §3.1–3.2).
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct AeConfig {
    /// Width of the two hidden layers (512).
    pub hidden: usize,
    /// Embedding width (128).
    pub latent: usize,
    /// Adam learning rate (1e-3).
    pub lr: f32,
    /// Cells per optimizer step (12 800: one full batch for ≤ 12 800 cells).
    pub batch_size: usize,
    /// A batch is processed in chunks of at most this many rows with gradients
    /// accumulated (mathematically identical for a sum loss); keeps the
    /// activations in cache (rust-deps.md §2). Not a scGNN parameter.
    pub chunk_rows: usize,
}

impl Default for AeConfig {
    fn default() -> Self {
        AeConfig {
            hidden: 512,
            latent: 128,
            lr: 1e-3,
            batch_size: 12800,
            chunk_rows: 1024,
        }
    }
}

impl AeConfig {
    /// Checks every size is positive and the learning rate is finite and positive.
    pub fn validate(&self) -> Result<()> {
        if self.hidden == 0 || self.latent == 0 || self.batch_size == 0 || self.chunk_rows == 0 {
            return Err(Error::Usage(format!(
                "autoencoder sizes must be positive (hidden {}, latent {}, batch {}, chunk {})",
                self.hidden, self.latent, self.batch_size, self.chunk_rows
            )));
        }
        if !(self.lr.is_finite() && self.lr > 0.0) {
            return Err(Error::Usage(format!(
                "autoencoder learning rate must be positive, got {}",
                self.lr
            )));
        }
        Ok(())
    }
}

/// The loss `γ·ΣE + α·Σ(R⊙E) + Σ_k w_k‖x̂_k − x_k‖² + λ1·Σ|θ| + λ2·Σθ²`
/// with `E = (x̂ − target)²` (spec §3.3, §9.2).
#[derive(Clone, Copy, Debug, Default)]
pub struct AeLoss<'a> {
    /// Reconstruction part (γ, α with the LTMG matrix R, per-cell weights w).
    pub sse: WeightedSse<'a>,
    /// L1/L2 on all weights and biases.
    pub penalty: Penalty,
}

/// Smallest output any gene gives any cell at the start of training
/// (see [`Autoencoder::lift_dead_outputs`]).
const MIN_START_OUTPUT: f32 = 0.01;

/// The autoencoder with its Adam state. `Clone` copies both; call
/// [`Autoencoder::reset_optimizer`] on a copy for a fresh optimizer (cluster
/// autoencoders initialised from the feature AE, spec §7.1).
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub struct Autoencoder {
    layers: Vec<Linear>,
    adam: Adam,
    cfg: AeConfig,
}

/// Reusable buffers for one training call: nothing is allocated per step.
struct Workspace {
    /// `acts[l]`: output of layer `l`, `chunk × dims[l+1]`.
    acts: Vec<Vec<f32>>,
    /// `deltas[l]`: ∂L/∂(pre-activation of layer l), same shape as `acts[l]`.
    deltas: Vec<Vec<f32>>,
    gw: Vec<Vec<f32>>,
    gb: Vec<Vec<f32>>,
    row_loss: Vec<f64>,
}

/// Hidden activations of one chunk in a forward-only pass.
struct ForwardBuffers {
    cap: usize,
    h1: Vec<f32>,
    h3: Vec<f32>,
}

impl ForwardBuffers {
    fn new(dims: &[usize], cap: usize) -> Self {
        ForwardBuffers {
            cap,
            h1: vec![0.0; cap * dims[1]],
            h3: vec![0.0; cap * dims[3]],
        }
    }
}

impl Autoencoder {
    /// A freshly initialised model for `n_genes` inputs; weights come from the
    /// seeded stream `rng::stream(seed, "autoencoder")`.
    pub fn new(n_genes: usize, cfg: &AeConfig, seed: u64) -> Result<Self> {
        cfg.validate()?;
        if n_genes == 0 {
            return Err(Error::Usage(
                "the autoencoder needs at least one gene".into(),
            ));
        }
        let dims = [n_genes, cfg.hidden, cfg.latent, cfg.hidden, n_genes];
        let mut rng = crate::rng::stream(seed, "autoencoder");
        let layers: Vec<Linear> = dims
            .windows(2)
            .map(|w| Linear::new(w[0], w[1], &mut rng))
            .collect();
        let sizes: Vec<usize> = layers
            .iter()
            .flat_map(|l| [l.weight.len(), l.bias.len()])
            .collect();
        Ok(Autoencoder {
            adam: Adam::new(cfg.lr, &sizes),
            layers,
            cfg: cfg.clone(),
        })
    }

    /// Number of input genes.
    pub fn n_genes(&self) -> usize {
        self.layers[0].in_dim
    }

    /// Embedding width.
    pub fn latent_dim(&self) -> usize {
        self.cfg.latent
    }

    /// The configuration the model was built with.
    pub fn config(&self) -> &AeConfig {
        &self.cfg
    }

    /// The four layers, input to output.
    pub fn layers(&self) -> &[Linear] {
        &self.layers
    }

    /// Total number of parameters (2 182 224 for G = 2000, spec §3.1).
    pub fn n_params(&self) -> usize {
        self.layers.iter().map(Linear::n_params).sum()
    }

    /// The four layers, mutable (e.g. to load or perturb weights).
    pub fn layers_mut(&mut self) -> &mut [Linear] {
        &mut self.layers
    }

    /// Raises each output bias just enough that the gene's output starts
    /// positive (≥ 0.01) for every cell of `x`; other parameters are untouched.
    /// With PyTorch's uniform initialisation the hidden code barely differs
    /// between cells at the start, so a gene whose pre-activation starts negative
    /// is negative for every cell; its ReLU then passes no gradient and the gene
    /// can stay at 0 for good (measured: 685 of 2 000 genes on a binomial half of
    /// goolam, 360 still dead after the 500 first epochs). The shift keeps the
    /// outputs near 0, as in scGNN, so training starts from the same large error
    /// (starting at the gene means instead lets the network settle on the mean).
    pub fn lift_dead_outputs(&mut self, x: &Dense) -> Result<usize> {
        self.check_input(x, "the autoencoder input")?;
        let dims = self.dims();
        // Chunk by chunk, so no cells × genes matrix of pre-activations is held.
        let mut bufs = ForwardBuffers::new(&dims, self.cfg.chunk_rows.min(x.rows.max(1)));
        let mut z = vec![0.0; bufs.cap * dims[2]];
        let mut pre = vec![0.0; bufs.cap * dims[4]];
        let mut low = vec![f32::INFINITY; dims[4]];
        for c in batches(x.rows, bufs.cap) {
            let rows = c.len();
            let pre = &mut pre[..rows * dims[4]];
            let xin = &x.data[c.start * dims[0]..c.end * dims[0]];
            self.forward_chunk(
                xin,
                &mut z[..rows * dims[2]],
                Some(&mut *pre),
                false,
                &mut bufs,
            );
            for row in pre.chunks(dims[4]) {
                for (m, &v) in low.iter_mut().zip(row) {
                    *m = m.min(v);
                }
            }
        }
        let last = self.layers.last_mut().expect("four layers");
        let mut lifted = 0;
        for (b, &m) in last.bias.iter_mut().zip(&low) {
            if m < MIN_START_OUTPUT {
                *b += MIN_START_OUTPUT - m;
                lifted += 1;
            }
        }
        Ok(lifted)
    }

    /// Forgets the Adam moments and step count.
    pub fn reset_optimizer(&mut self) {
        self.adam.reset();
    }

    fn dims(&self) -> [usize; 5] {
        let g = self.n_genes();
        [g, self.cfg.hidden, self.cfg.latent, self.cfg.hidden, g]
    }

    fn check_input(&self, x: &Dense, what: &str) -> Result<()> {
        if x.cols != self.n_genes() {
            return Err(Error::Usage(format!(
                "{what} has {} columns but the autoencoder expects {} genes",
                x.cols,
                self.n_genes()
            )));
        }
        if let Some(i) = x.data.iter().position(|v| !v.is_finite()) {
            return Err(Error::Usage(format!(
                "{what} holds a non-finite value at cell {}, gene {}",
                i / x.cols,
                i % x.cols
            )));
        }
        Ok(())
    }

    /// Trains for `epochs` passes over the rows of `input` (in order, no
    /// shuffling, as scGNN's loader), reconstructing `target` (same shape; pass
    /// the input itself for a plain autoencoder). Calls `on_epoch(epoch, loss)`
    /// after each epoch and returns the per-epoch losses: the sum over batches
    /// of the full loss, penalty included, evaluated before each step.
    pub fn train(
        &mut self,
        input: &Dense,
        target: &Dense,
        loss: &AeLoss,
        epochs: usize,
        on_epoch: &mut dyn FnMut(usize, f64),
    ) -> Result<Vec<f64>> {
        self.check_input(input, "the training input")?;
        self.check_input(target, "the training target")?;
        if target.rows != input.rows {
            return Err(Error::Usage(format!(
                "training input has {} cells but the target has {}",
                input.rows, target.rows
            )));
        }
        loss.sse.validate(input.rows, input.cols)?;
        loss.penalty.validate()?;
        let n = input.rows;
        let dims = self.dims();
        let g = dims[0];
        let chunk_cap = self.cfg.chunk_rows.min(self.cfg.batch_size).min(n.max(1));
        let mut ws = Workspace {
            acts: (1..5).map(|l| vec![0.0; chunk_cap * dims[l]]).collect(),
            deltas: (1..5).map(|l| vec![0.0; chunk_cap * dims[l]]).collect(),
            gw: self
                .layers
                .iter()
                .map(|l| vec![0.0; l.weight.len()])
                .collect(),
            gb: self
                .layers
                .iter()
                .map(|l| vec![0.0; l.bias.len()])
                .collect(),
            row_loss: vec![0.0; chunk_cap],
        };
        let mut losses = Vec::with_capacity(epochs);
        for epoch in 0..epochs {
            let mut epoch_loss = 0.0f64;
            for batch in batches(n, self.cfg.batch_size) {
                for chunk in batches(batch.len(), chunk_cap) {
                    let (r0, r1) = (batch.start + chunk.start, batch.start + chunk.end);
                    epoch_loss += self.chunk_step(
                        &input.data[r0 * g..r1 * g],
                        &target.data[r0 * g..r1 * g],
                        r0,
                        &loss.sse,
                        &mut ws,
                        chunk.start == 0,
                    );
                }
                epoch_loss += self.optimizer_step(&ws, loss.penalty);
            }
            if !epoch_loss.is_finite() {
                return Err(Error::Numeric(format!(
                    "autoencoder loss became {epoch_loss} at epoch {epoch}; \
                     lower the learning rate or check the input scale"
                )));
            }
            on_epoch(epoch, epoch_loss);
            losses.push(epoch_loss);
        }
        Ok(losses)
    }

    /// Forward and backward pass of one chunk of rows starting at global row
    /// `r0`, accumulating parameter gradients into the workspace (overwriting
    /// them for the `first` chunk of a batch). Returns the chunk's reconstruction loss.
    fn chunk_step(
        &self,
        x: &[f32],
        t: &[f32],
        r0: usize,
        sse: &WeightedSse,
        ws: &mut Workspace,
        first: bool,
    ) -> f64 {
        let dims = self.dims();
        let rows = x.len() / dims[0];
        for l in 0..4 {
            let (before, after) = ws.acts.split_at_mut(l);
            let src: &[f32] = if l == 0 {
                x
            } else {
                &before[l - 1][..rows * dims[l]]
            };
            self.layers[l].forward(src, rows, &mut after[0][..rows * dims[l + 1]], true);
        }
        let out = &ws.acts[3][..rows * dims[4]];
        let d_out = &mut ws.deltas[3][..rows * dims[4]];
        let chunk_loss = sse.eval(r0, out, t, dims[4], Some(d_out), &mut ws.row_loss);
        relu_backward(d_out, out);
        for l in (0..4).rev() {
            let src: &[f32] = if l == 0 {
                x
            } else {
                &ws.acts[l - 1][..rows * dims[l]]
            };
            let (lower, upper) = ws.deltas.split_at_mut(l);
            let dy = &upper[0][..rows * dims[l + 1]];
            let dx = lower.last_mut().map(|d| &mut d[..rows * dims[l]]);
            let has_dx = dx.is_some();
            self.layers[l].backward(src, dy, rows, &mut ws.gw[l], &mut ws.gb[l], dx, first);
            if has_dx {
                relu_backward(&mut ws.deltas[l - 1][..rows * dims[l]], src);
            }
        }
        chunk_loss
    }

    /// Loss (penalty included) and its gradient at the current parameters over
    /// all rows as one batch, without updating anything. Gradients are listed
    /// per layer as `(weight, bias)`, in the layout of [`Linear`].
    pub fn loss_and_gradient(
        &self,
        input: &Dense,
        target: &Dense,
        loss: &AeLoss,
    ) -> Result<(f64, Vec<(Vec<f32>, Vec<f32>)>)> {
        self.check_input(input, "the input")?;
        self.check_input(target, "the target")?;
        if target.rows != input.rows {
            return Err(Error::Usage("target and input differ in cell count".into()));
        }
        loss.sse.validate(input.rows, input.cols)?;
        let dims = self.dims();
        let n = input.rows;
        let cap = self.cfg.chunk_rows.min(n.max(1));
        let mut ws = Workspace {
            acts: (1..5).map(|l| vec![0.0; cap * dims[l]]).collect(),
            deltas: (1..5).map(|l| vec![0.0; cap * dims[l]]).collect(),
            gw: self
                .layers
                .iter()
                .map(|l| vec![0.0; l.weight.len()])
                .collect(),
            gb: self
                .layers
                .iter()
                .map(|l| vec![0.0; l.bias.len()])
                .collect(),
            row_loss: vec![0.0; cap],
        };
        let g = dims[0];
        let mut total = 0.0;
        for c in batches(n, cap) {
            total += self.chunk_step(
                &input.data[c.start * g..c.end * g],
                &target.data[c.start * g..c.end * g],
                c.start,
                &loss.sse,
                &mut ws,
                c.start == 0,
            );
        }
        let mut out = Vec::with_capacity(4);
        for (l, (mut gw, mut gb)) in self.layers.iter().zip(ws.gw.into_iter().zip(ws.gb)) {
            for (gv, &t) in gw.iter_mut().zip(&l.weight) {
                total += loss.penalty.value(t);
                *gv += loss.penalty.grad(t);
            }
            for (gv, &t) in gb.iter_mut().zip(&l.bias) {
                total += loss.penalty.value(t);
                *gv += loss.penalty.grad(t);
            }
            out.push((gw, gb));
        }
        Ok((total, out))
    }

    /// One Adam step on the accumulated gradients; returns the penalty value.
    fn optimizer_step(&mut self, ws: &Workspace, penalty: Penalty) -> f64 {
        let mut params: Vec<&mut [f32]> = self
            .layers
            .iter_mut()
            .flat_map(|l| {
                let Linear { weight, bias, .. } = l;
                [weight.as_mut_slice(), bias.as_mut_slice()]
            })
            .collect();
        let grads: Vec<&[f32]> = ws
            .gw
            .iter()
            .zip(&ws.gb)
            .flat_map(|(w, b)| [w.as_slice(), b.as_slice()])
            .collect();
        self.adam.step(&mut params, &grads, penalty)
    }

    /// Forward pass over all rows of `x` in chunks; returns the embedding and,
    /// when asked, the reconstruction.
    fn forward_all(&self, x: &Dense, want_recon: bool) -> Result<(Dense, Option<Dense>)> {
        self.check_input(x, "the autoencoder input")?;
        let dims = self.dims();
        let mut z = Dense::zeros(x.rows, dims[2]);
        let mut recon = want_recon.then(|| Dense::zeros(x.rows, dims[4]));
        let mut bufs = ForwardBuffers::new(&dims, self.cfg.chunk_rows.min(x.rows.max(1)));
        for c in batches(x.rows, bufs.cap) {
            let xin = &x.data[c.start * dims[0]..c.end * dims[0]];
            let zc = &mut z.data[c.start * dims[2]..c.end * dims[2]];
            let out = recon
                .as_mut()
                .map(|r| &mut r.data[c.start * dims[4]..c.end * dims[4]]);
            self.forward_chunk(xin, zc, out, true, &mut bufs);
        }
        Ok((z, recon))
    }

    /// [`Autoencoder::reconstruct`] writing the reconstruction over `x` (same
    /// values, one dense matrix less at peak); returns the embedding.
    pub fn reconstruct_in_place(&self, x: &mut Dense) -> Result<Dense> {
        self.check_input(x, "the autoencoder input")?;
        let dims = self.dims();
        let mut z = Dense::zeros(x.rows, dims[2]);
        let mut bufs = ForwardBuffers::new(&dims, self.cfg.chunk_rows.min(x.rows.max(1)));
        let mut xin = vec![0.0; bufs.cap * dims[0]];
        for c in batches(x.rows, bufs.cap) {
            let rows = &mut x.data[c.start * dims[0]..c.end * dims[0]];
            // The chunk's input is read by the first layer only, so a copy of it
            // frees its rows to receive the output.
            let xin = &mut xin[..rows.len()];
            xin.copy_from_slice(rows);
            let zc = &mut z.data[c.start * dims[2]..c.end * dims[2]];
            self.forward_chunk(xin, zc, Some(rows), true, &mut bufs);
        }
        Ok(z)
    }

    /// Forward pass of one chunk of rows: embedding into `zc` and, if `out` is
    /// given, the reconstruction (pre-activations when `relu_out` is false).
    fn forward_chunk(
        &self,
        xin: &[f32],
        zc: &mut [f32],
        out: Option<&mut [f32]>,
        relu_out: bool,
        bufs: &mut ForwardBuffers,
    ) {
        let dims = self.dims();
        let rows = xin.len() / dims[0];
        let h1 = &mut bufs.h1[..rows * dims[1]];
        self.layers[0].forward(xin, rows, h1, true);
        self.layers[1].forward(h1, rows, zc, true);
        if let Some(out) = out {
            let h3 = &mut bufs.h3[..rows * dims[3]];
            self.layers[2].forward(zc, rows, h3, true);
            self.layers[3].forward(h3, rows, out, relu_out);
        }
    }

    /// The embedding (cells × latent) of `x`.
    pub fn encode(&self, x: &Dense) -> Result<Dense> {
        Ok(self.forward_all(x, false)?.0)
    }

    /// The embedding of a sparse matrix, densified one chunk of rows at a time so
    /// no dense cells × genes copy is made.
    pub fn encode_sparse(&self, x: &Csr<f32>) -> Result<Dense> {
        let dims = self.dims();
        if x.cols != dims[0] {
            return Err(Error::Usage(format!(
                "the autoencoder input has {} columns but the autoencoder expects {} genes",
                x.cols, dims[0]
            )));
        }
        let mut z = Dense::zeros(x.rows, dims[2]);
        let mut bufs = ForwardBuffers::new(&dims, self.cfg.chunk_rows.min(x.rows.max(1)));
        for c in batches(x.rows, bufs.cap) {
            let chunk = x.dense_rows(c.start, c.end);
            let zc = &mut z.data[c.start * dims[2]..c.end * dims[2]];
            self.forward_chunk(&chunk.data, zc, None, true, &mut bufs);
        }
        Ok(z)
    }

    /// A clean forward pass: (embedding, reconstruction).
    pub fn reconstruct(&self, x: &Dense) -> Result<(Dense, Dense)> {
        let (z, r) = self.forward_all(x, true)?;
        Ok((z, r.expect("reconstruction requested")))
    }

    /// Loss of the current parameters on `input`/`target` without training
    /// (for gradient checks and monitoring), penalty included.
    pub fn loss(&self, input: &Dense, target: &Dense, loss: &AeLoss) -> Result<f64> {
        let (_, recon) = self.reconstruct(input)?;
        if target.rows != input.rows || target.cols != input.cols {
            return Err(Error::Usage("target shape differs from input shape".into()));
        }
        loss.sse.validate(input.rows, input.cols)?;
        let mut row_loss = vec![0.0; input.rows];
        let sse = loss.sse.eval(
            0,
            &recon.data,
            &target.data,
            input.cols,
            None,
            &mut row_loss,
        );
        let params: Vec<&[f32]> = self
            .layers
            .iter()
            .flat_map(|l| [l.weight.as_slice(), l.bias.as_slice()])
            .collect();
        Ok(sse + loss.penalty.total(&params))
    }
}
