//! The training loop, evaluation and prediction, all in Rust: one native
//! call runs a whole fit.

use crate::error::{Error, Result};
use crate::layers::DenseGrads;
use crate::losses::{self, check_labels, LossTotals};
use crate::model::{Model, WeightTensor};
use crate::rng::Rng;
use crate::workspace::{view, view_mut, Workspace};
use ndarray::ArrayViewMut1;

/// Inputs (row-major, rows × features) and their integer class labels.
#[derive(Clone, Copy)]
pub struct Samples<'a> {
    pub x: &'a [f32],
    pub labels: &'a [i32],
}

impl<'a> Samples<'a> {
    pub fn len(&self) -> usize {
        self.labels.len()
    }

    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }

    /// Checks the samples against the model: size, shape and label range.
    fn check(&self, model: &Model, what: &str) -> Result<()> {
        if self.is_empty() {
            return Err(Error::Value(format!("Expected at least one sample in {what}. Received: 0 samples")));
        }
        check_rows(self.x, self.len(), model.input_dim(), what)?;
        check_labels(self.labels, model.output_dim())
    }
}

fn check_rows(x: &[f32], rows: usize, features: usize, what: &str) -> Result<()> {
    if rows.checked_mul(features) != Some(x.len()) {
        return Err(Error::Shape(format!(
            "Expected {what} to hold {rows} rows of {features} features ({} values). Received: {} values",
            rows.saturating_mul(features),
            x.len()
        )));
    }
    Ok(())
}

#[derive(Clone, Copy, Debug)]
pub struct FitOptions {
    pub epochs: usize,
    pub batch_size: usize,
    pub shuffle: bool,
    /// Seeds the per-epoch shuffles.
    pub seed: u64,
}

#[derive(Clone, Copy, Debug, PartialEq)]
pub struct EpochLogs {
    /// Batches run this epoch.
    pub batches: usize,
    pub train: LossTotals,
    pub val: Option<LossTotals>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Flow {
    Continue,
    Stop,
}

/// Hears from the loop between batches and after each epoch; answering
/// `Flow::Stop` ends training after the step that just finished.
pub trait FitObserver {
    fn on_batch_end(&mut self, _epoch: usize, _batch: usize, _running: &LossTotals) -> Flow {
        Flow::Continue
    }
    fn on_epoch_end(&mut self, _epoch: usize, _logs: &EpochLogs) -> Flow {
        Flow::Continue
    }
}

/// An observer that only listens.
pub struct Silent;
impl FitObserver for Silent {}

#[derive(Clone, Debug, PartialEq)]
pub struct FitResult {
    pub epochs: Vec<EpochLogs>,
    pub stopped: bool,
}

impl Model {
    fn require_compiled(&self) -> Result<()> {
        if self.is_compiled() {
            Ok(())
        } else {
            Err(Error::State("You must call compile() before using the model for training.".into()))
        }
    }

    /// A workspace for `rows`, reusing `cached` when it is large enough.
    fn workspace(&self, cached: Option<Workspace>, rows: usize, training: bool) -> Result<Workspace> {
        match cached {
            Some(ws) if ws.fits(self, rows, training) => Ok(ws),
            _ => Workspace::new(self, rows, training),
        }
    }

    /// Trains for `options.epochs` over `train`, evaluating `val` after each epoch.
    pub fn fit(
        &mut self,
        train: Samples,
        val: Option<Samples>,
        options: &FitOptions,
        observer: &mut dyn FitObserver,
    ) -> Result<FitResult> {
        self.require_compiled()?;
        train.check(self, "the training data")?;
        if let Some(v) = &val {
            v.check(self, "the validation data")?;
        }
        if options.batch_size == 0 {
            return Err(Error::Value("Expected a positive integer for batchSize. Received: batchSize=0".into()));
        }
        let n = train.len();
        let rows = options.batch_size.min(n);
        let mut ws = Workspace::new(self, rows, true)?;
        self.build_optimizer()?;
        let mut order: Vec<usize> = crate::alloc::zeroed(n, "the shuffle order")?;
        order.iter_mut().enumerate().for_each(|(i, o)| *o = i);
        let mut rng = Rng::new(options.seed);
        let mut result = FitResult { epochs: Vec::with_capacity(options.epochs.min(1 << 16)), stopped: false };

        'epochs: for epoch in 0..options.epochs {
            if options.shuffle {
                rng.shuffle(&mut order);
            }
            let mut running = LossTotals::default();
            let mut batches = 0;
            for (batch, idx) in order.chunks(rows).enumerate() {
                batches = batch + 1;
                gather(&mut ws, train, idx, self.input_dim());
                running.add(self.train_step(&mut ws, idx.len()));
                if observer.on_batch_end(epoch, batch, &running) == Flow::Stop {
                    result.stopped = true;
                    break 'epochs;
                }
            }
            let val_totals = match val {
                Some(v) => Some(self.evaluate_into(&mut ws, v, rows)),
                None => None,
            };
            let logs = EpochLogs { batches, train: running, val: val_totals };
            result.epochs.push(logs);
            if observer.on_epoch_end(epoch, &logs) == Flow::Stop {
                result.stopped = true;
                break;
            }
        }
        Ok(result)
    }

    /// One optimizer step on exactly these samples; loss and accuracy are
    /// measured before the update, as Keras reports them.
    pub fn train_on_batch(&mut self, batch: Samples) -> Result<LossTotals> {
        self.require_compiled()?;
        batch.check(self, "the batch")?;
        let mut ws = Workspace::new(self, batch.len(), true)?;
        self.build_optimizer()?;
        let all: Vec<usize> = (0..batch.len()).collect();
        gather(&mut ws, batch, &all, self.input_dim());
        Ok(self.train_step(&mut ws, batch.len()))
    }

    /// Loss totals and the gradient of the batch-mean loss for every weight
    /// (kernel, then bias, of each layer) on `batch`, without updating.
    pub fn gradients(&self, batch: Samples) -> Result<(LossTotals, Vec<WeightTensor>)> {
        self.require_compiled()?;
        batch.check(self, "the batch")?;
        let mut ws = Workspace::new(self, batch.len(), true)?;
        let all: Vec<usize> = (0..batch.len()).collect();
        gather(&mut ws, batch, &all, self.input_dim());
        let totals = self.compute_gradients(&mut ws, batch.len());
        let mut grads = Vec::new();
        for (l, layer) in self.layers.iter().enumerate() {
            grads.push(WeightTensor { shape: layer.kernel.shape().to_vec(), data: ws.dkernels[l].clone() });
            if layer.use_bias {
                grads.push(WeightTensor { shape: vec![layer.units()], data: ws.dbiases[l].clone() });
            }
        }
        Ok((totals, grads))
    }

    /// Mean loss and accuracy over `samples`, in batches of `batch_size`.
    pub fn evaluate(&self, samples: Samples, batch_size: usize) -> Result<LossTotals> {
        samples.check(self, "the evaluation data")?;
        let rows = positive_batch(batch_size)?.min(samples.len());
        let mut ws = self.workspace(None, rows, false)?;
        Ok(self.evaluate_into(&mut ws, samples, rows))
    }

    /// The last layer's outputs for `x` (rows × features), rows × units.
    pub fn predict(&self, x: &[f32], rows: usize, batch_size: usize) -> Result<Vec<f32>> {
        if rows == 0 {
            return Err(Error::Value("Expected at least one sample to predict. Received: 0 samples".into()));
        }
        check_rows(x, rows, self.input_dim(), "the input")?;
        let units = self.output_dim();
        let mut out = crate::alloc::zeroed(crate::alloc::checked_len(&[rows, units], "predictions")?, "predictions")?;
        let chunk = positive_batch(batch_size)?.min(rows);
        let mut ws = self.workspace(None, chunk, false)?;
        let d = self.input_dim();
        for (start, dst) in (0..rows).step_by(chunk).zip(out.chunks_mut(chunk * units)) {
            let b = chunk.min(rows - start);
            ws.x[..b * d].copy_from_slice(&x[start * d..(start + b) * d]);
            self.forward(&mut ws, b);
            dst.copy_from_slice(&ws.outputs.last().expect("a model has layers")[..b * units]);
        }
        Ok(out)
    }

    fn build_optimizer(&mut self) -> Result<()> {
        let lens: Vec<usize> = self
            .layers
            .iter()
            .flat_map(|l| [Some(l.kernel.len()), l.use_bias.then_some(l.bias.len())])
            .flatten()
            .collect();
        self.optimizer.as_mut().expect("compiled").build(&lens)
    }

    fn evaluate_into(&self, ws: &mut Workspace, samples: Samples, rows: usize) -> LossTotals {
        let mut totals = LossTotals::default();
        let d = self.input_dim();
        for start in (0..samples.len()).step_by(rows) {
            let b = rows.min(samples.len() - start);
            ws.x[..b * d].copy_from_slice(&samples.x[start * d..(start + b) * d]);
            self.forward(ws, b);
            let out = view(ws.outputs.last().expect("a model has layers"), b, self.output_dim());
            totals.add(losses::sparse_categorical_crossentropy::totals(out, &samples.labels[start..start + b]));
        }
        totals
    }

    /// Forward pass of the first `b` rows of `ws.x`.
    pub(crate) fn forward(&self, ws: &mut Workspace, b: usize) {
        let Workspace { x, outputs, gemm, .. } = ws;
        for (l, layer) in self.layers.iter().enumerate() {
            let (before, rest) = outputs.split_at_mut(l);
            let input = if l == 0 { &x[..] } else { &before[l - 1][..] };
            layer.forward(self.isa, view(input, b, layer.input_dim()), view_mut(&mut rest[0], b, layer.units()), gemm);
        }
    }

    /// Forward, loss and backward on the first `b` rows of the workspace,
    /// leaving the parameter gradients in `ws.dkernels` / `ws.dbiases`.
    pub(crate) fn compute_gradients(&self, ws: &mut Workspace, b: usize) -> LossTotals {
        self.forward(ws, b);
        let last = self.layers.len() - 1;
        let labels = &ws.labels[..b];
        let out = view(&ws.outputs[last], b, self.output_dim());
        let totals = losses::sparse_categorical_crossentropy::totals(out, labels);
        let dz = view_mut(&mut ws.grads[last], b, self.output_dim());
        losses::sparse_categorical_crossentropy::output_gradient(out, labels, self.layers[last].activation, dz);

        let Workspace { x, outputs, grads, dkernels, dbiases, gemm, .. } = ws;
        for (l, layer) in self.layers.iter().enumerate().rev() {
            let (grads_before, grads_rest) = grads.split_at_mut(l);
            let input = if l == 0 { &x[..] } else { &outputs[l - 1][..] };
            let (i, u) = (layer.input_dim(), layer.units());
            let dx = match l {
                0 => None,
                _ => Some((view_mut(&mut grads_before[l - 1], b, i), self.layers[l - 1].activation)),
            };
            let grads = DenseGrads {
                kernel: view_mut(&mut dkernels[l], i, u),
                bias: ArrayViewMut1::from(&mut dbiases[l][..]),
            };
            layer.backward(self.isa, view(input, b, i), view(&grads_rest[0], b, u), grads, dx, gemm);
        }
        totals
    }

    fn train_step(&mut self, ws: &mut Workspace, b: usize) -> LossTotals {
        let totals = self.compute_gradients(ws, b);
        let opt = self.optimizer.as_mut().expect("compiled");
        let mut index = 0;
        for (l, layer) in self.layers.iter_mut().enumerate() {
            opt.update_step(index, layer.kernel.as_slice_mut().expect("contiguous"), &ws.dkernels[l]);
            index += 1;
            if layer.use_bias {
                opt.update_step(index, layer.bias.as_slice_mut().expect("contiguous"), &ws.dbiases[l]);
                index += 1;
            }
        }
        totals
    }
}

fn positive_batch(batch_size: usize) -> Result<usize> {
    if batch_size == 0 {
        return Err(Error::Value("Expected a positive integer for batchSize. Received: batchSize=0".into()));
    }
    Ok(batch_size)
}

/// Copies the rows `idx` of `samples` into the workspace's batch buffers.
fn gather(ws: &mut Workspace, samples: Samples, idx: &[usize], d: usize) {
    for (k, &i) in idx.iter().enumerate() {
        ws.x[k * d..(k + 1) * d].copy_from_slice(&samples.x[i * d..(i + 1) * d]);
        ws.labels[k] = samples.labels[i];
    }
}
