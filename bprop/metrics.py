"""Classification metrics from predicted and true class indices (NumPy only)."""
import numpy as np


def confusion_matrix(y_true, y_pred, n_classes):
    """``matrix[i, j]`` counts examples of true class i predicted as class j."""
    matrix = np.zeros((n_classes, n_classes), dtype=np.int64)
    np.add.at(matrix, (np.asarray(y_true), np.asarray(y_pred)), 1)
    return matrix


def per_class(matrix):
    """Precision, recall and support per class, from a confusion matrix.

    precision_k = matrix[k, k] / Σ_i matrix[i, k] (of those predicted k, how many were k);
    recall_k = matrix[k, k] / Σ_j matrix[k, j] (of the true k, how many were found).
    A class never predicted (or never present) gets precision (or recall) 0.
    """
    hits = np.diag(matrix).astype(float)
    predicted, support = matrix.sum(axis=0), matrix.sum(axis=1)
    precision = np.divide(hits, predicted, out=np.zeros_like(hits), where=predicted > 0)
    recall = np.divide(hits, support, out=np.zeros_like(hits), where=support > 0)
    return precision, recall, support
