#!/usr/bin/env python3
"""Generates the demo dataset of `make run`: realistic customer interactions
in English, Portuguese and Spanish across every ingestion channel, as JSON
lines in the shape of POST /v1/ingest/interactions (one interaction a line).

    generate.py [--count 3000] [--seed 20240501] [--anchor YYYY-MM-DD] [--out FILE]

Everything comes from one random.Random(seed): the same seed and anchor give
the same file, byte for byte. The anchor (default: today, UTC) is the end of
the 90 days the interactions spread over, so a fresh `make run` always shows
recent data; external ids do not depend on it, so loading again on another
day is answered "duplicate", not counted twice.

What is in it, so the dashboards have something to show:
  - channels: calls (timestamped utterances per speaker, with silences over
    2 s while the agent checks something, and overtalk), chats, WhatsApp
    threads, e-mails (single messages and threads), surveys (NPS 0-10,
    CSAT 1-5, a comment most of the time) and reviews (1-5 stars);
  - topics: billing, cancellation, delivery, technical problem, account
    access, pricing, complaint, praise — delivery trouble grows over the
    last two weeks (a "top mover"), pricing questions fade;
  - twelve agents whose resolution rate and tone differ;
  - sentiment cues the analysis handles: negation, intensifiers, contrast
    ("but"), exclamation marks, capitals and emoji;
  - outcome signals: escalation requests, resolutions, churn-risk language;
  - PII to show redaction: e-mail addresses, phone numbers, Luhn-valid test
    card numbers, CPFs with valid check digits, a valid IBAN.
Standard library only.
"""
import argparse
import datetime as dt
import json
import random
import sys

LANGS = [("en", 0.5), ("pt", 0.3), ("es", 0.2)]
CHANNELS = [("call", 0.30), ("chat", 0.18), ("whatsapp", 0.14), ("email", 0.12),
            ("survey", 0.14), ("review", 0.12)]
TOPICS = ["billing", "cancellation", "delivery", "technical", "account", "pricing",
          "complaint", "praise"]
DAYS = 90

AGENTS = [  # id, name, languages, skill (resolution and tone)
    ("ag-01", "Emma Clarke", ("en",), 0.90), ("ag-02", "Liam Turner", ("en",), 0.70),
    ("ag-03", "Olivia Reed", ("en",), 0.55), ("ag-04", "Noah Patel", ("en", "es"), 0.80),
    ("ag-05", "Ana Souza", ("pt",), 0.92), ("ag-06", "Bruno Lima", ("pt",), 0.60),
    ("ag-07", "Carla Mendes", ("pt", "es"), 0.78), ("ag-08", "Diego Rocha", ("pt",), 0.50),
    ("ag-09", "Lucía García", ("es",), 0.88), ("ag-10", "Javier Romero", ("es",), 0.65),
    ("ag-11", "Sofía Torres", ("es", "en"), 0.75), ("ag-12", "Mateo Díaz", ("es",), 0.58),
]
QUEUES = {"billing": "billing", "cancellation": "retention", "delivery": "logistics",
          "technical": "support", "account": "support", "pricing": "sales",
          "complaint": "support", "praise": "support"}
REGIONS = {"en": ["US-CA", "US-NY", "US-TX", "GB-LND"], "pt": ["BR-SP", "BR-RJ", "BR-MG", "PT-LIS"],
           "es": ["ES-MD", "ES-CT", "MX-CMX", "AR-BA"]}

# ---- phrase bank: (customer openers by topic, agent lines, closings) -----------

OPEN = {
    "en": {
        "billing": ["I was charged twice for my order this month.",
                    "My invoice shows a fee I don't recognize.",
                    "Why is my bill so much higher than last month?"],
        "cancellation": ["I want to cancel my subscription.",
                         "How do I close my account? I'm not using it anymore.",
                         "Please cancel my plan before the next renewal."],
        "delivery": ["My package still hasn't arrived, it's been ten days.",
                     "The tracking says delivered but I never got anything.",
                     "The box arrived damaged and two items are missing."],
        "technical": ["The app keeps crashing when I open the cart.",
                      "I can't upload my documents, the page just freezes.",
                      "Notifications stopped working after the last update."],
        "account": ["I can't log in, it says my password is wrong.",
                    "I never received the verification code.",
                    "My account got locked after I changed my phone."],
        "pricing": ["Is there a discount for the annual plan?",
                    "How much does the premium plan cost for a team of five?",
                    "Do you price match other stores?"],
        "complaint": ["This is the third time I'm calling about the same problem.",
                      "Nobody answered my emails for a week.",
                      "The service has gotten worse and worse."],
        "praise": ["I just wanted to say your team was amazing yesterday.",
                   "The new app is really great, very easy to use.",
                   "Thanks for fixing my issue so fast last week."],
    },
    "pt": {
        "billing": ["Fui cobrado duas vezes no cartão este mês.",
                    "Minha fatura veio com uma taxa que eu não reconheço.",
                    "Por que a minha conta veio tão mais alta?"],
        "cancellation": ["Quero cancelar minha assinatura.",
                         "Como faço para encerrar minha conta? Não uso mais.",
                         "Por favor, cancelem meu plano antes da renovação."],
        "delivery": ["Meu pedido ainda não chegou, já faz dez dias.",
                     "O rastreio diz entregue mas eu não recebi nada.",
                     "A caixa chegou amassada e faltando dois itens."],
        "technical": ["O aplicativo fecha sozinho quando abro o carrinho.",
                      "Não consigo enviar meus documentos, a página trava.",
                      "As notificações pararam depois da última atualização."],
        "account": ["Não consigo entrar, diz que a senha está errada.",
                    "Nunca recebi o código de verificação.",
                    "Minha conta foi bloqueada depois que troquei de celular."],
        "pricing": ["Tem desconto no plano anual?",
                    "Quanto custa o plano premium para uma equipe de cinco?",
                    "Vocês cobrem o preço da concorrência?"],
        "complaint": ["É a terceira vez que eu ligo pelo mesmo problema.",
                      "Ninguém respondeu meus e-mails durante uma semana.",
                      "O atendimento está cada vez pior."],
        "praise": ["Só queria dizer que a equipe de vocês foi incrível ontem.",
                   "O novo aplicativo ficou muito bom, super fácil de usar.",
                   "Obrigado por resolverem meu problema tão rápido."],
    },
    "es": {
        "billing": ["Me cobraron dos veces en la tarjeta este mes.",
                    "Mi factura tiene un cargo que no reconozco.",
                    "¿Por qué mi cuenta es mucho más alta que el mes pasado?"],
        "cancellation": ["Quiero cancelar mi suscripción.",
                         "¿Cómo cierro mi cuenta? Ya no la uso.",
                         "Por favor cancelen mi plan antes de la renovación."],
        "delivery": ["Mi pedido todavía no llegó, ya pasaron diez días.",
                     "El seguimiento dice entregado pero no recibí nada.",
                     "La caja llegó dañada y faltan dos productos."],
        "technical": ["La aplicación se cierra cuando abro el carrito.",
                      "No puedo subir mis documentos, la página se congela.",
                      "Las notificaciones dejaron de funcionar tras la actualización."],
        "account": ["No puedo iniciar sesión, dice que la contraseña es incorrecta.",
                    "Nunca recibí el código de verificación.",
                    "Mi cuenta quedó bloqueada después de cambiar de teléfono."],
        "pricing": ["¿Hay descuento en el plan anual?",
                    "¿Cuánto cuesta el plan premium para un equipo de cinco?",
                    "¿Igualan el precio de otras tiendas?"],
        "complaint": ["Es la tercera vez que llamo por el mismo problema.",
                      "Nadie respondió mis correos durante una semana.",
                      "El servicio está cada vez peor."],
        "praise": ["Solo quería decir que su equipo fue increíble ayer.",
                   "La nueva aplicación es muy buena, súper fácil de usar.",
                   "Gracias por resolver mi problema tan rápido."],
    },
}

AGENT = {
    "en": {"greet": ["Hi, thanks for contacting us. How can I help you today?",
                     "Hello, this is {agent}. What can I do for you?"],
           "ask": ["Could you confirm your order number, please?",
                   "Can you give me the email on the account?"],
           "hold": ["Let me check that for you, one moment please.",
                    "Please hold while I look into it."],
           "fix": ["I've fixed it on our side, you should see the change now.",
                   "I issued a refund, it will show up in three to five days.",
                   "I've sent a replacement with express shipping."],
           "nofix": ["I'm sorry, I can't change that from here.",
                     "Unfortunately that is our policy."],
           "escalate": ["I'll transfer you to my supervisor right away."],
           "bye": ["Is there anything else I can help with?",
                   "Thank you for your patience, have a great day!"]},
    "pt": {"greet": ["Olá, obrigado pelo contato. Como posso ajudar?",
                     "Oi, aqui é {agent}. Em que posso ajudar?"],
           "ask": ["Pode confirmar o número do pedido, por favor?",
                   "Qual é o e-mail cadastrado na conta?"],
           "hold": ["Vou verificar para você, só um momento.",
                    "Aguarde um instante enquanto eu confiro."],
           "fix": ["Pronto, corrigi aqui, já deve aparecer para você.",
                   "Fiz o estorno, aparece em três a cinco dias úteis.",
                   "Enviei um novo produto com entrega expressa."],
           "nofix": ["Sinto muito, não consigo alterar isso por aqui.",
                     "Infelizmente essa é a nossa política."],
           "escalate": ["Vou transferir você para o meu supervisor agora."],
           "bye": ["Posso ajudar em algo mais?",
                   "Obrigado pela paciência, tenha um ótimo dia!"]},
    "es": {"greet": ["Hola, gracias por contactarnos. ¿En qué puedo ayudarle?",
                     "Hola, le atiende {agent}. ¿Qué necesita?"],
           "ask": ["¿Puede confirmar el número de pedido, por favor?",
                   "¿Cuál es el correo de la cuenta?"],
           "hold": ["Déjeme revisarlo, un momento por favor.",
                    "Espere un momento mientras lo verifico."],
           "fix": ["Listo, ya lo corregí, debería ver el cambio ahora.",
                   "Hice el reembolso, lo verá en tres a cinco días.",
                   "Le envié un reemplazo con envío exprés."],
           "nofix": ["Lo siento, no puedo cambiar eso desde aquí.",
                     "Lamentablemente es nuestra política."],
           "escalate": ["Le transfiero con mi supervisor ahora mismo."],
           "bye": ["¿Puedo ayudarle en algo más?",
                   "Gracias por su paciencia, ¡que tenga un buen día!"]},
}

CUSTOMER = {
    "en": {"happy": ["That fixed it, thank you so much! 😀", "Perfect, that solved my problem.",
                     "Wow, that was REALLY fast, thanks!!"],
           "meh": ["Ok, I guess that works.", "Fine, but it took way too long.",
                   "The app is nice but the delivery was terrible."],
           "angry": ["This is not acceptable at all.", "I'm extremely disappointed. 😡",
                     "This is RIDICULOUS, nobody ever helps me!!!"],
           "escalate": ["I want to speak to a manager.", "Let me talk to your supervisor."],
           "churn": ["If this isn't fixed I'm going to cancel and switch to another company.",
                     "I'm thinking about leaving, honestly."],
           "not_happy": ["I'm not happy with this answer.", "That doesn't help me at all."]},
    "pt": {"happy": ["Resolveu, muito obrigado! 😀", "Perfeito, era isso mesmo.",
                     "Nossa, foi MUITO rápido, valeu!!"],
           "meh": ["Ok, pode ser.", "Tudo bem, mas demorou demais.",
                   "O aplicativo é bom mas a entrega foi péssima."],
           "angry": ["Isso não é aceitável.", "Estou extremamente decepcionado. 😡",
                     "Isso é um ABSURDO, ninguém me ajuda!!!"],
           "escalate": ["Quero falar com o supervisor.", "Me passa para o seu gerente."],
           "churn": ["Se não resolverem vou cancelar e mudar para a concorrência.",
                     "Estou pensando em sair, sinceramente."],
           "not_happy": ["Não estou satisfeito com essa resposta.", "Isso não me ajuda em nada."]},
    "es": {"happy": ["¡Eso lo solucionó, muchas gracias! 😀", "Perfecto, eso era.",
                     "¡Fue MUY rápido, gracias!!"],
           "meh": ["Bueno, está bien.", "Vale, pero tardó demasiado.",
                   "La aplicación es buena pero el envío fue terrible."],
           "angry": ["Esto no es aceptable.", "Estoy muy decepcionado. 😡",
                     "¡¡Esto es RIDÍCULO, nadie me ayuda!!"],
           "escalate": ["Quiero hablar con un supervisor.", "Páseme con su gerente."],
           "churn": ["Si no lo arreglan voy a cancelar y cambiarme a la competencia.",
                     "Estoy pensando en irme, la verdad."],
           "not_happy": ["No estoy contento con esta respuesta.", "Eso no me ayuda para nada."]},
}

SURVEY_TEXT = {
    "en": {"pos": ["Fast and friendly service.", "Great support, really helpful!",
                   "Loved it 👍"],
           "neu": ["It was ok.", "Decent, could be faster."],
           "neg": ["Took forever and the problem is not solved.", "Very bad experience.",
                   "Nobody listens to customers."]},
    "pt": {"pos": ["Atendimento rápido e simpático.", "Suporte ótimo, ajudou muito!",
                   "Adorei 👍"],
           "neu": ["Foi ok.", "Razoável, poderia ser mais rápido."],
           "neg": ["Demorou muito e não resolveram.", "Experiência muito ruim.",
                   "Ninguém escuta o cliente."]},
    "es": {"pos": ["Atención rápida y amable.", "Soporte excelente, ¡muy útil!",
                   "Me encantó 👍"],
           "neu": ["Estuvo bien.", "Correcto, podría ser más rápido."],
           "neg": ["Tardaron muchísimo y no lo resolvieron.", "Muy mala experiencia.",
                   "Nadie escucha al cliente."]},
}

REVIEW_TITLE = {
    "en": {5: "Excellent", 4: "Good", 3: "Average", 2: "Disappointing", 1: "Terrible"},
    "pt": {5: "Excelente", 4: "Bom", 3: "Regular", 2: "Decepcionante", 1: "Péssimo"},
    "es": {5: "Excelente", 4: "Bueno", 3: "Regular", 2: "Decepcionante", 1: "Pésimo"},
}
REVIEW_TEXT = {
    "en": {5: ["Arrived early and works perfectly.", "Best purchase this year, highly recommend!"],
           4: ["Good product, but the box was a bit damaged.", "Works well, setup took a while."],
           3: ["It's ok, nothing special.", "Does the job but support was slow."],
           2: ["Not what I expected, the quality is poor.", "Delivery was late and nobody told me."],
           1: ["Never arrived and no refund yet.", "Broke after two days, awful support."]},
    "pt": {5: ["Chegou antes do prazo e funciona perfeitamente.", "Melhor compra do ano, recomendo!"],
           4: ["Produto bom, mas a caixa veio amassada.", "Funciona bem, a instalação demorou."],
           3: ["É ok, nada demais.", "Cumpre o que promete mas o suporte é lento."],
           2: ["Não era o que eu esperava, qualidade ruim.", "Entrega atrasou e ninguém avisou."],
           1: ["Nunca chegou e até agora sem reembolso.", "Quebrou em dois dias, suporte péssimo."]},
    "es": {5: ["Llegó antes y funciona perfecto.", "La mejor compra del año, ¡recomendado!"],
           4: ["Buen producto, pero la caja llegó golpeada.", "Funciona bien, la instalación tardó."],
           3: ["Está bien, nada especial.", "Cumple pero el soporte es lento."],
           2: ["No es lo que esperaba, mala calidad.", "El envío se retrasó y nadie avisó."],
           1: ["Nunca llegó y sigo sin reembolso.", "Se rompió en dos días, soporte pésimo."]},
}

EMAIL_SUBJECT = {
    "en": {"billing": "Double charge", "cancellation": "Cancel my account",
           "delivery": "Where is my order?", "technical": "App not working",
           "account": "Cannot log in", "pricing": "Question about plans",
           "complaint": "Formal complaint", "praise": "Thank you!"},
    "pt": {"billing": "Cobrança duplicada", "cancellation": "Cancelar minha conta",
           "delivery": "Cadê meu pedido?", "technical": "Aplicativo com problema",
           "account": "Não consigo entrar", "pricing": "Dúvida sobre planos",
           "complaint": "Reclamação formal", "praise": "Obrigado!"},
    "es": {"billing": "Cobro duplicado", "cancellation": "Cancelar mi cuenta",
           "delivery": "¿Dónde está mi pedido?", "technical": "La aplicación no funciona",
           "account": "No puedo entrar", "pricing": "Consulta sobre planes",
           "complaint": "Queja formal", "praise": "¡Gracias!"},
}
PII_LEAD = {
    "en": {"email": "My email is {v}.", "phone": "You can call me at {v}.",
           "card": "The card ending was charged, full number {v}.", "iban": "Refund to IBAN {v}."},
    "pt": {"email": "Meu e-mail é {v}.", "phone": "Pode me ligar no {v}.",
           "card": "O cartão cobrado foi o {v}.", "cpf": "Meu CPF é {v}.",
           "iban": "Podem devolver no IBAN {v}."},
    "es": {"email": "Mi correo es {v}.", "phone": "Pueden llamarme al {v}.",
           "card": "La tarjeta cobrada es la {v}.", "iban": "Devuelvan al IBAN {v}."},
}
FIRST = {"en": ["john", "mary", "peter", "linda"], "pt": ["maria", "joao", "ana", "pedro"],
         "es": ["lucia", "carlos", "sofia", "miguel"]}
LAST = {"en": ["smith", "jones", "brown"], "pt": ["silva", "santos", "oliveira"],
        "es": ["garcia", "lopez", "martinez"]}
# Valid example IBANs (mod-97 checks hold); published examples, not real accounts.
IBANS = ["GB82 WEST 1234 5698 7654 32", "DE89 3704 0044 0532 0130 00",
         "ES91 2100 0418 4502 0005 1332", "PT50 0002 0123 1234 5678 9015 4"]


def weighted(rng, pairs):
    x, acc = rng.random(), 0.0
    for value, w in pairs:
        acc += w
        if x < acc:
            return value
    return pairs[-1][0]


def luhn_card(rng):
    """A 16-digit test-range card number with a valid Luhn check digit."""
    prefix = rng.choice(["411111", "555555", "400005", "520082"])
    digits = [int(c) for c in prefix] + [rng.randrange(10) for _ in range(9)]
    total = 0
    for i, d in enumerate(reversed(digits)):
        if i % 2 == 0:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    digits.append((10 - total % 10) % 10)
    s = "".join(map(str, digits))
    return " ".join(s[i:i + 4] for i in range(0, 16, 4))


def cpf(rng):
    """A CPF with valid check digits, formatted 123.456.789-09."""
    while True:
        d = [rng.randrange(10) for _ in range(9)]
        if len(set(d)) > 1:
            break
    for n in (10, 11):
        s = sum(v * w for v, w in zip(d, range(n, 1, -1)))
        d.append(0 if s % 11 < 2 else 11 - s % 11)
    s = "".join(map(str, d))
    return f"{s[:3]}.{s[3:6]}.{s[6:9]}-{s[9:]}"


def phone(rng, lang):
    if lang == "pt":
        return f"+55 11 9{rng.randrange(1000, 9999)}-{rng.randrange(1000, 9999)}"
    if lang == "es":
        return f"+34 6{rng.randrange(10, 99)} {rng.randrange(100, 999)} {rng.randrange(100, 999)}"
    return f"({rng.randrange(201, 989)}) 555-{rng.randrange(1000, 9999)}"


def pii_sentence(rng, lang):
    kinds = ["email", "phone", "card", "iban"] + (["cpf", "cpf"] if lang == "pt" else [])
    kind = rng.choice(kinds)
    if kind == "email":
        v = f"{rng.choice(FIRST[lang])}.{rng.choice(LAST[lang])}{rng.randrange(100)}@example.com"
    elif kind == "phone":
        v = phone(rng, lang)
    elif kind == "card":
        v = luhn_card(rng)
    elif kind == "cpf":
        v = cpf(rng)
    else:
        v = rng.choice(IBANS)
    return PII_LEAD[lang][kind].format(v=v)


class Generator:
    def __init__(self, seed, anchor):
        self.rng = random.Random(seed)
        self.anchor = anchor  # a datetime (UTC): the end of the period
        self.counters = {}

    def topic(self, day):
        """Topics drift over the period: delivery trouble rises in the last
        two weeks, pricing questions fade."""
        recent = day >= DAYS - 14
        weights = {"billing": 14, "cancellation": 9, "delivery": 28 if recent else 12,
                   "technical": 14, "account": 10, "pricing": 4 if recent else 11,
                   "complaint": 9, "praise": 8}
        total = sum(weights.values())
        return weighted(self.rng, [(t, w / total) for t, w in weights.items()])

    def when(self):
        rng = self.rng
        day = min(int(rng.triangular(0, DAYS, DAYS * 0.8)), DAYS - 1)
        date = self.anchor - dt.timedelta(days=DAYS - day)
        # Office hours mostly, weekdays more than weekends. The draw happens
        # whatever the weekday, so the anchor never changes the random
        # stream (and with it the external ids).
        if rng.random() < 0.5 and date.weekday() >= 5:
            date -= dt.timedelta(days=2)
        hour = int(min(max(rng.gauss(13, 3.5), 0), 23))
        t = date.replace(hour=hour, minute=rng.randrange(60), second=rng.randrange(60),
                         microsecond=0)
        return day, t

    def agent_for(self, lang):
        return self.rng.choice([a for a in AGENTS if lang in a[2]])

    def mood(self, topic, skill):
        """The outcome: resolved / escalated / churn, and the customer's mood."""
        rng = self.rng
        if topic == "praise":
            return "happy", True, False, False
        resolved = rng.random() < skill * (0.6 if topic == "complaint" else 0.9)
        escalated = not resolved and rng.random() < 0.45
        churn = topic in ("cancellation", "complaint", "billing") and not resolved and \
            rng.random() < 0.6
        mood = "happy" if resolved and rng.random() < 0.75 else \
            ("meh" if resolved or rng.random() < 0.3 else "angry")
        return mood, resolved, escalated, churn

    def conversation(self, lang, topic, agent_name, mood, resolved, escalated, churn):
        """(speaker, text, kind) turns; kind "hold" marks the agent's check."""
        rng, A, C = self.rng, AGENT[lang], CUSTOMER[lang]
        turns = [("agent", rng.choice(A["greet"]).format(agent=agent_name.split()[0]), "")]
        opener = rng.choice(OPEN[lang][topic])
        if rng.random() < 0.18:
            opener += " " + pii_sentence(rng, lang)
        turns.append(("customer", opener, ""))
        if topic != "praise":
            turns.append(("agent", rng.choice(A["ask"]), ""))
            turns.append(("customer", str(rng.randrange(100000, 999999)) if rng.random() < 0.5
                          else pii_sentence(rng, lang), ""))
            turns.append(("agent", rng.choice(A["hold"]), "hold"))
            if resolved:
                turns.append(("agent", rng.choice(A["fix"]), ""))
            else:
                turns.append(("agent", rng.choice(A["nofix"]), ""))
                turns.append(("customer", rng.choice(C["not_happy"]), ""))
                if churn:
                    turns.append(("customer", rng.choice(C["churn"]), ""))
                if escalated:
                    turns.append(("customer", rng.choice(C["escalate"]), ""))
                    turns.append(("agent", rng.choice(A["escalate"]), ""))
        turns.append(("customer", rng.choice(C[mood]), ""))
        turns.append(("agent", rng.choice(A["bye"]), ""))
        return turns

    def next_id(self, channel):
        self.counters[channel] = self.counters.get(channel, 0) + 1
        return f"demo-{channel}-{self.counters[channel]:05d}"

    def common(self, channel, lang, t, agent, topic):
        rng = self.rng
        item = {"external_id": self.next_id(channel), "channel": channel,
                "occurred_at": t.strftime("%Y-%m-%dT%H:%M:%SZ")}
        if rng.random() < 0.85:  # the rest is left to language detection
            item["language"] = lang
        if agent and channel not in ("survey", "review"):
            item["agent"] = {"id": agent[0], "name": agent[1]}
        item["customer_ref"] = f"cust-{rng.randrange(1, 900):05d}"
        tags = []
        if rng.random() < 0.12:
            tags.append("vip")
        if rng.random() < 0.2:
            tags.append("repeat-contact")
        if tags:
            item["tags"] = tags
        item["metadata"] = {"queue": QUEUES[topic], "region": rng.choice(REGIONS[lang])}
        return item

    def call(self, item, turns):
        rng, at, utterances = self.rng, 0, []
        for i, (speaker, text, kind) in enumerate(turns):
            dur = int(len(text.split()) * rng.uniform(280, 420)) + 400
            utterances.append({"speaker": speaker, "text": text, "start_ms": at,
                               "end_ms": at + dur})
            if kind == "hold":
                gap = rng.randrange(2500, 12000)          # a silence over 2 s
            elif rng.random() < 0.15 and i + 1 < len(turns):
                gap = -rng.randrange(300, min(1500, dur))  # overtalk
            else:
                gap = rng.randrange(200, 1400)
            at = max(at + dur + gap, at + 1)
        item["utterances"] = utterances

    def thread(self, item, t, turns):
        rng, at, utterances = self.rng, t, []
        for speaker, text, kind in turns:
            if kind == "hold":
                at += dt.timedelta(seconds=rng.randrange(60, 600))
            utterances.append({"speaker": speaker, "text": text,
                               "at": at.strftime("%Y-%m-%dT%H:%M:%SZ")})
            at += dt.timedelta(seconds=rng.randrange(5, 120))
        item["utterances"] = utterances

    def one(self):
        rng = self.rng
        lang = weighted(rng, LANGS)
        channel = weighted(rng, CHANNELS)
        day, t = self.when()
        topic = self.topic(day)
        agent = self.agent_for(lang)
        mood, resolved, escalated, churn = self.mood(topic, agent[3])
        item = self.common(channel, lang, t, agent, topic)
        if channel == "call":
            self.call(item, self.conversation(lang, topic, agent[1], mood, resolved, escalated,
                                              churn))
        elif channel in ("chat", "whatsapp"):
            turns = self.conversation(lang, topic, agent[1], mood, resolved, escalated, churn)
            if channel == "whatsapp":
                turns = turns[1:]  # customers start WhatsApp threads themselves
            self.thread(item, t, turns)
        elif channel == "email":
            item["subject"] = EMAIL_SUBJECT[lang][topic]
            body = rng.choice(OPEN[lang][topic])
            if rng.random() < 0.3:
                body += " " + pii_sentence(rng, lang)
            if mood == "angry":
                body += " " + rng.choice(CUSTOMER[lang]["angry"])
            if churn:
                body += " " + rng.choice(CUSTOMER[lang]["churn"])
            if rng.random() < 0.35:  # a thread with the agent's answer
                reply = rng.choice(AGENT[lang]["fix" if resolved else "nofix"])
                self.thread(item, t, [("customer", body, ""), ("agent", reply, "hold")])
            else:
                item["text"] = body
        elif channel == "survey":
            score = {"happy": (9, 10, 5), "meh": (6, 8, 3), "angry": (0, 5, 1)}[mood]
            nps = rng.randint(score[0], score[1])
            csat = max(1, min(5, score[2] + rng.choice((-1, 0, 0, 1)) if mood != "happy"
                              else rng.choice((4, 5, 5))))
            kind = rng.random()
            item["survey"] = {"nps": nps, "csat": csat} if kind < 0.6 else \
                ({"nps": nps} if kind < 0.8 else {"csat": csat})
            if rng.random() < 0.7:
                tone = "pos" if nps >= 9 else ("neu" if nps >= 7 else "neg")
                item["text"] = rng.choice(SURVEY_TEXT[lang][tone])
        else:
            rating = {"happy": rng.choice((4, 5, 5)), "meh": rng.choice((3, 3, 4, 2)),
                      "angry": rng.choice((1, 1, 2))}[mood]
            item["rating"] = rating
            if rng.random() < 0.5:
                item["subject"] = REVIEW_TITLE[lang][rating]
            if rng.random() < 0.9:
                item["text"] = rng.choice(REVIEW_TEXT[lang][rating])
        return item

    def all(self, count):
        items = [self.one() for _ in range(count)]
        items.sort(key=lambda i: (i["occurred_at"], i["external_id"]))
        return items


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--count", type=int, default=3000)
    p.add_argument("--seed", type=int, default=20240501)
    p.add_argument("--anchor", help="YYYY-MM-DD, the end of the 90 days (default: today, UTC)")
    p.add_argument("--out", help="file to write (default: standard output)")
    args = p.parse_args(argv)
    if args.anchor:
        anchor = dt.datetime.strptime(args.anchor, "%Y-%m-%d")
    else:
        anchor = dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)
    anchor = anchor.replace(hour=0, minute=0, second=0, microsecond=0)
    items = Generator(args.seed, anchor).all(args.count)
    out = open(args.out, "w", encoding="utf-8") if args.out else sys.stdout
    try:
        for item in items:
            out.write(json.dumps(item, ensure_ascii=False, separators=(",", ":")) + "\n")
    finally:
        if args.out:
            out.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
