# coding: utf-8
# A "model" that knows the answer to every question it was given (for eval_seq2seq).


class Answerer:
    def __init__(self, x, t):
        self.answers = {tuple(q): a for q, a in zip(x.tolist(), t.tolist())}

    def generate(self, question, start_id, sample_size):
        return self.answers[tuple(question.flatten().tolist())][1:1 + sample_size]
