"""Deterministic inputs for bench_peers.py.

Learner questions, and 10k mixed Korean/English note chunks.
"""

from __future__ import annotations

from typing import Any

import numpy as np

# Written for this benchmark (none is one of neulora.train.style_examples()): a mix of asking for a
# fact, asking why, asking for a way in, and asking for a check, in Korean and English.
QUESTIONS = [
    "지수함수의 그래프는 어떻게 생겼어요?",
    "등비수열의 일반항 공식이 뭐예요?",
    "삼각함수 덧셈정리를 알려 주세요",
    "조건부확률의 정의가 뭔가요?",
    "이차방정식 근의 공식 좀 알려줘",
    "부정적분이 뭐예요?",
    "상용로그가 뭔지 알려줘",
    "극한값은 어떻게 구해요?",
    "코사인 법칙 공식이 뭐였죠?",
    "순열과 조합의 차이가 뭐예요?",
    "왜 0으로 나누면 안 돼요?",
    "왜 음수의 제곱근은 실수가 아니에요?",
    "왜 사인 그래프는 주기가 2π예요?",
    "미분 가능하면 왜 연속이에요?",
    "왜 무한등비급수는 |r|<1일 때만 수렴해요?",
    "왜 로그를 쓰면 곱셈이 덧셈이 되죠?",
    "왜 정적분으로 넓이를 구할 수 있어요?",
    "왜 확률의 합은 1이어야 하나요?",
    "왜 e라는 수가 특별한가요?",
    "왜 0!은 1이에요?",
    "이 극한 문제 첫 단계를 모르겠어요",
    "치환적분을 어떻게 시작할지 막혔어요",
    "증명 문제인데 실마리를 주세요",
    "그래프 그리는 순서를 하나씩 알려 주세요",
    "방정식을 세우는 것부터 도와줄래요?",
    "점화식 문제를 차근차근 풀어 보고 싶어요",
    "이 확률 문제 어디부터 손대야 해요?",
    "부분적분 연습 문제를 같이 풀어 줘요",
    "수학적 귀납법 단계별로 안내해 주세요",
    "최솟값 구하는 문제가 막막해요",
    "제가 구한 극한값이 2인데 맞는지 확인해 주세요",
    "적분 결과가 x^3/3 + C 나왔는데 맞아요?",
    "이 증명에서 틀린 부분이 있나요?",
    "확률을 1/6로 계산했는데 검토해 주세요",
    "제 그래프 개형이 맞는지 봐 주세요",
    "등비수열 합을 63으로 구했어요, 맞나요?",
    "log_3 27 = 3 이라고 썼는데 괜찮아요?",
    "미분해서 2x+1 나왔는데 맞는지요?",
    "제 풀이 과정에 실수가 있는지 찾아 주세요",
    "답지랑 제 답이 달라요, 어디가 틀렸죠?",
    "What is the quadratic formula?",
    "What does the slope of a line mean?",
    "Define an arithmetic sequence for me.",
    "What is the integral of 1/x?",
    "What is a unit circle?",
    "What is the formula for combinations?",
    "What is the domain of a logarithmic function?",
    "What is an inverse function?",
    "What is the sine rule?",
    "What is a limit in calculus?",
    "Why does a negative times a negative give a positive?",
    "Why is the area under a curve an integral?",
    "Why can't a logarithm have base one?",
    "Why do we flip the inequality when multiplying by a negative?",
    "Why does e^x equal its own derivative?",
    "Why is the sum of angles in a triangle 180 degrees?",
    "Why does the product rule have two terms?",
    "Why do exponential functions grow so fast?",
    "Why is dividing by zero undefined?",
    "Why does the harmonic series diverge?",
    "How should I begin this proof by induction?",
    "I have no idea how to start this word problem.",
    "Can you guide me one step at a time through this limit?",
    "Help me set up this optimization problem.",
    "What should my first move be on this integral?",
    "Could you break this probability question into steps?",
    "I'm lost on this recurrence, can you walk me through it?",
    "Give me a small nudge on this geometry problem.",
    "How do I approach solving this system of equations?",
    "Show me where to start with this trig identity.",
    "I got x = -3 and x = 2, are those correct?",
    "Is my derivative 6x^2 - 4 right?",
    "I wrote that the limit is infinity, did I get it right?",
    "Please check my proof that the sum is n(n+1)/2.",
    "My integral came out as 9, can you verify?",
    "Did I expand (a+b)^2 correctly as a^2 + b^2?",
    "I think the probability is 0.25, is that right?",
    "Can you look over my solution for mistakes?",
    "I computed log base 2 of 32 as 6, is that wrong?",
    "Here's my graph sketch, does it look correct?",
]

EN_WORDS = """logarithm exponent base sequence series sum limit derivative integral slope tangent
area volume probability event sample variance mean median vector matrix angle radian
sine cosine triangle circle parabola function domain range inverse graph asymptote
root equation inequality factor polynomial fraction ratio proof induction recurrence
convergence divergence geometric arithmetic harmonic continuity maximum minimum curve
chord symmetry period amplitude coordinate origin axis distance length perimeter
permutation combination factorial binomial expectation distribution normal interval
estimate hypothesis theorem lemma axiom identity substitution parts chain product
quotient rule rate change velocity acceleration growth decay interest compound model
error approximation table pattern term common difference formula definition example
exercise solution""".split()  # noqa: SIM905

KO_WORDS = """로그 지수 밑 진수 수열 급수 합 극한 미분 적분 기울기 접선 넓이 부피 확률 사건
표본 분산 평균 중앙값 벡터 행렬 각 라디안 사인 코사인 삼각형 원 포물선 함수
정의역 치역 역함수 그래프 점근선 근 방정식 부등식 인수 다항식 분수 비 증명
귀납법 점화식 수렴 발산 등비 등차 연속 최댓값 최솟값 곡선 현 대칭 주기 진폭 좌표
원점 축 거리 길이 둘레 순열 조합 계승 이항 기댓값 분포 정규분포 구간 추정 가설
정리 공리 항등식 치환 부분 연쇄 곱 몫 법칙 변화율 속도 가속도 증가 감소 이자
복리 모형 오차 근사 표 규칙 항 공차 공비 공식 정의 예제 연습 풀이""".split()  # noqa: SIM905

EN_TEMPLATES = [
    "The {0} of a {1} depends on the {2}.",
    "We use the {0} to find the {1} of the {2}.",
    "A {0} and a {1} meet where the {2} changes.",
    "Remember that every {0} has a {1} and a {2}.",
    "To check the {0}, compare the {1} with the {2}.",
    "The {0} rule links {1} and {2}.",
]
KO_TEMPLATES = [
    "{0}의 {1}은 {2}에 따라 달라진다.",
    "{0}을 이용해 {2}의 {1}을 구한다.",
    "{0}와 {1}는 {2}에서 만난다.",
    "모든 {0}에는 {1}과 {2}가 있다.",
    "{0}를 확인하려면 {1}과 {2}를 비교한다.",
    "{0} 법칙은 {1}와 {2}를 잇는다.",
]
Q_TEMPLATES = [
    "{0}와 {1}의 관계를 {2} 예제로 설명해 줘",
    "How is the {0} related to the {1} and the {2}?",
    "{0}, {1}, {2}에 대한 노트를 찾아 줘",
    "notes on {0} {1} {2}",
]


def chunks_and_queries(
    n: int,
    n_queries: int,
    *,
    topics: int = 300,
    seed: int = 0,
) -> tuple[list[str], list[dict[str, Any]], list[str]]:
    """``n`` unique chunks of about 300 characters over ``topics`` topics sharing words; queries.

    Each topic owns 10 words drawn from one pool of Korean and English terms (so topics overlap); a
    chunk's sentences take 80% of their words from its topic and 20% from the pool, in Korean or
    English at random.
    """
    rng = np.random.default_rng(seed)
    en = np.array(EN_WORDS)
    ko = np.array(KO_WORDS)
    topic_words = [
        (rng.choice(en, 10, replace=False), rng.choice(ko, 10, replace=False))
        for _ in range(topics)
    ]
    texts = []
    metas = []
    for i in range(n):
        t = int(rng.integers(topics))
        parts = [f"[{t}-{i}]"]
        while sum(map(len, parts)) + len(parts) < 290:
            korean = rng.random() < 0.5
            words = topic_words[t][1 if korean else 0]
            pool = ko if korean else en
            picked = [str(rng.choice(words if rng.random() < 0.8 else pool)) for _ in range(3)]
            template = (KO_TEMPLATES if korean else EN_TEMPLATES)[int(rng.integers(6))]
            parts.append(template.format(*picked))
        texts.append(" ".join(parts))
        metas.append({"topic": t})
    queries = []
    for _ in range(n_queries):
        t = int(rng.integers(topics))
        template = Q_TEMPLATES[int(rng.integers(len(Q_TEMPLATES)))]
        words = topic_words[t][0 if "How" in template or "notes" in template else 1]
        queries.append(template.format(*(str(w) for w in rng.choice(words, 3, replace=False))))
    assert len(set(texts)) == n
    return texts, metas, queries
