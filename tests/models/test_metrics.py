import torch
from torchmetrics.classification import BinaryAUROC

from inception_tl.models.metrics import classification_metrics


def test_two_class_auroc_equals_the_binary_auroc():
    torch.manual_seed(0)
    probabilities = torch.rand(64, 2).softmax(dim=1)
    labels = torch.randint(0, 2, (64,))
    metrics = classification_metrics(2, prefix="val/")(probabilities, labels)
    binary = BinaryAUROC()(probabilities[:, 1], labels)
    assert torch.allclose(metrics["val/auroc"], binary)


def test_macro_scores_match_a_hand_computation():
    # class 0: 2 of 3 right; class 1: 1 of 1 right; class 2: 0 of 2 right (predicted as 1)
    labels = torch.tensor([0, 0, 0, 1, 2, 2])
    predicted = torch.tensor([0, 0, 1, 1, 1, 1])
    probabilities = torch.nn.functional.one_hot(predicted, 3).float()
    metrics = classification_metrics(3, prefix="test/")(probabilities, labels)
    recall = (2 / 3 + 1 + 0) / 3
    precision = (1 + 1 / 4 + 0) / 3
    assert torch.isclose(metrics["test/acc"], torch.tensor(3 / 6))
    assert torch.isclose(metrics["test/recall"], torch.tensor(recall))
    assert torch.isclose(metrics["test/precision"], torch.tensor(precision))
