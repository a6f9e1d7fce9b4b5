//! A fit's caller ends an epoch's validation pass between its chunks
//! (`FitObserver::cancelled`), and a refused compile changes nothing.

use ferro_core::kernels::Activation;
use ferro_core::layers::{DenseSpec, LayerSpec};
use ferro_core::losses::{Loss, LossOptions};
use ferro_core::optimizers::RmsPropConfig;
use ferro_core::{Compilation, EpochLogs, FitObserver, FitOptions, Flow, Model, Samples};

fn model() -> Model {
    let specs = vec![
        LayerSpec::Dense(DenseSpec::new(8, Activation::Relu)),
        LayerSpec::Dense(DenseSpec::new(3, Activation::Softmax)),
    ];
    let mut m = Model::build(5, &specs, 4).unwrap();
    m.compile(RmsPropConfig::default(), Loss::SparseCategoricalCrossentropy).unwrap();
    m
}

fn data(rows: usize) -> (Vec<f32>, Vec<i32>) {
    (
        (0..rows * 5).map(|i| ((i * 13 % 29) as f32 - 14.0) / 9.0).collect(),
        (0..rows as i32).map(|i| i * 7 % 3).collect(),
    )
}

/// Counts the questions; answers yes from the `from`-th on.
struct CancelAt {
    from: usize,
    asked: usize,
}

impl FitObserver for CancelAt {
    fn on_epoch_end(&mut self, _epoch: usize, _logs: &EpochLogs) -> Flow {
        Flow::Continue
    }
    fn cancelled(&mut self) -> bool {
        self.asked += 1;
        self.asked >= self.from
    }
}

#[test]
fn a_cancelled_validation_pass_ends_after_the_chunk_it_was_asked_in() {
    let (x, y) = data(16);
    let (vx, vy) = data(100);
    let opts = FitOptions { epochs: 1, batch_size: 8, shuffle: false, seed: 1, initial_epoch: 0 };
    // Asked once per chunk: 13 chunks of 8 rows, all run when never cancelled.
    let mut never = CancelAt { from: usize::MAX, asked: 0 };
    let full = model().fit(Samples::new(&x, &y), Some(Samples::new(&vx, &vy)), &opts, &mut never).unwrap();
    assert_eq!(never.asked, 13);
    assert_eq!(full.epochs[0].val.map(|v| v.count), Some(100));
    let mut early = CancelAt { from: 3, asked: 0 };
    let cut = model().fit(Samples::new(&x, &y), Some(Samples::new(&vx, &vy)), &opts, &mut early).unwrap();
    assert_eq!(early.asked, 3);
    assert_eq!(cut.epochs[0].val, None);
}

#[test]
fn a_refused_compile_leaves_optimizer_loss_and_metrics_as_they_were() {
    let (x, y) = data(16);
    let mut m = model();
    let names = vec!["sparse_top_k_categorical_accuracy".to_string()];
    m.apply_compilation(
        Compilation::new(RmsPropConfig::default(), Loss::SparseCategoricalCrossentropy, LossOptions::default(), &names)
            .unwrap(),
    );
    m.train_on_batch(Samples::new(&x, &y)).unwrap();
    let steps = m.optimizer().unwrap().iterations();
    // Each part refused on its own: a metric the loss cannot feed (top-k
    // over class ids, with a loss over floats), an option the loss lacks,
    // label smoothing out of range.
    let smoothing = LossOptions { from_logits: false, label_smoothing: 0.1 };
    let too_much = LossOptions { from_logits: false, label_smoothing: 2.0 };
    for (loss, options, metrics) in [
        (Loss::MeanSquaredError, LossOptions::default(), &names),
        (Loss::MeanSquaredError, smoothing, &vec![]),
        (Loss::CategoricalCrossentropy, too_much, &vec![]),
    ] {
        let err = Compilation::new(RmsPropConfig::default(), loss, options, metrics).err().expect("refused");
        assert_eq!(err.code(), "ERR_FERRO_VALUE", "{err}");
    }
    assert_eq!(m.optimizer().unwrap().iterations(), steps);
    assert_eq!(m.metrics().len(), 1);
    // Still the first compile's loss over class ids, and its optimizer's count goes on.
    m.train_on_batch(Samples::new(&x, &y)).unwrap();
    assert_eq!(m.optimizer().unwrap().iterations(), steps + 1);
}
