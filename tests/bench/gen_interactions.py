#!/usr/bin/env python3
"""Synthetic interactions for the processor bench, as JSON lines for
`serphona-cli produce-interactions`.

    gen_interactions.py COUNT [--tenants N] [--seed S]

Deterministic for a seed. A realistic mix: calls (timestamped turns, 4-14 of
them), chats and WhatsApp threads (2-10 untimed turns), e-mails (subject and
one body), surveys (NPS/CSAT and a comment) and reviews (rating and a text),
in English, Portuguese and Spanish, with some PII (cards, e-mails, phones,
CPFs) for the redactor to find.
"""
import argparse
import json
import random
import sys
import uuid

CUSTOMER = {
    "en": ["Hi, I was charged twice for my subscription this month.",
           "My internet has been down since yesterday, this is unacceptable!",
           "I want to cancel my plan, the price went up again.",
           "Where is my order? It was supposed to arrive on Monday.",
           "I can't log into my account, the password reset never arrives.",
           "Thanks a lot, that solved it. Great service!",
           "This is the third time I call about this, I am really frustrated.",
           "Can you send the invoice to {email}? My card is {card}.",
           "Please call me back at {phone}, I am not happy with the answer."],
    "pt": ["Olá, fui cobrado duas vezes na fatura deste mês.",
           "Minha internet está sem funcionar desde ontem, péssimo atendimento!",
           "Quero cancelar meu plano, o preço aumentou de novo.",
           "Cadê meu pedido? Era para chegar na segunda-feira.",
           "Não consigo acessar minha conta, o e-mail de senha não chega.",
           "Muito obrigado, resolveu! Ótimo atendimento.",
           "Meu CPF é {cpf}, podem conferir o cadastro?",
           "Me liga no {phone} por favor, ainda estou sem solução."],
    "es": ["Hola, me cobraron dos veces este mes.",
           "Mi pedido no ha llegado y ya pasó una semana, estoy muy molesto.",
           "Quiero cancelar mi suscripción, es demasiado cara.",
           "Gracias, todo resuelto. ¡Excelente servicio!",
           "No puedo entrar a mi cuenta, ¿me pueden ayudar?"],
}
AGENT = {
    "en": ["I am sorry about that, let me check your account.",
           "I have issued a refund, you will see it in 3 to 5 days.",
           "Could you confirm your order number, please?",
           "I will escalate this to my supervisor right away.",
           "Is there anything else I can help you with today?"],
    "pt": ["Sinto muito pelo transtorno, vou verificar sua conta.",
           "Já fiz o estorno, deve aparecer em até 5 dias úteis.",
           "Pode me confirmar o número do pedido, por favor?",
           "Vou transferir para o meu supervisor agora mesmo.",
           "Posso ajudar em mais alguma coisa?"],
    "es": ["Lamento las molestias, voy a revisar su cuenta.",
           "Ya hice el reembolso, lo verá en unos días.",
           "¿Me confirma el número de pedido, por favor?",
           "Lo paso con mi supervisor ahora mismo."],
}
CARDS = ["4111 1111 1111 1111", "5500 0000 0000 0004", "3782 822463 10005"]
CPFS = ["529.982.247-25", "111.444.777-35"]


def fill(rng, text):
    return text.format(email=f"cliente{rng.randrange(10**6)}@example.com",
                       card=rng.choice(CARDS), cpf=rng.choice(CPFS),
                       phone=f"+55 11 9{rng.randrange(1000, 9999)}-{rng.randrange(1000, 9999)}")


def turns(rng, lang, n, timed):
    out, t = [], 0
    for i in range(n):
        speaker = "customer" if i % 2 == 0 else "agent"
        text = fill(rng, rng.choice((CUSTOMER if speaker == "customer" else AGENT)[lang]))
        if timed:
            length = rng.randrange(1500, 9000)
            start = t + rng.randrange(-800, 3500)
            start = max(start, 0)
            out.append({"speaker": speaker, "start_ms": start, "end_ms": start + length,
                        "text": text})
            t = start + length
        else:
            out.append({"speaker": speaker, "text": text})
    return out


def interaction(rng, tenants, i, base_ms):
    tenant = tenants[i % len(tenants)]
    lang = rng.choices(["en", "pt", "es"], weights=[5, 4, 2])[0]
    channel = rng.choices(["call", "chat", "whatsapp", "email", "survey", "review"],
                          weights=[4, 3, 2, 1, 1, 1])[0]
    ext = f"{channel}-{i}"
    line = {"interaction_id": str(uuid.uuid5(uuid.UUID(tenant), ext)), "tenant_id": tenant,
            "external_id": ext, "channel": channel,
            "occurred_at_unix_ms": base_ms + rng.randrange(30 * 86400) * 1000,
            "agent_id": f"agent-{rng.randrange(40)}", "agent_name": "Agent",
            "customer_ref": f"cust-{rng.randrange(10**6)}", "tags": [lang, channel],
            "source": "api"}
    if channel == "call":
        line["utterances"] = turns(rng, lang, rng.randrange(4, 15), True)
    elif channel in ("chat", "whatsapp"):
        line["utterances"] = turns(rng, lang, rng.randrange(2, 11), False)
    elif channel == "email":
        line["subject"] = "Account question"
        line["utterances"] = [{"speaker": "customer",
                               "text": " ".join(fill(rng, rng.choice(CUSTOMER[lang]))
                                                for _ in range(3))}]
    elif channel == "survey":
        line["survey"] = {"nps": rng.randrange(11), "csat": rng.randrange(1, 6)}
        line["utterances"] = [{"speaker": "customer",
                               "text": fill(rng, rng.choice(CUSTOMER[lang]))}]
    else:
        line["rating"] = rng.randrange(1, 6)
        line["utterances"] = [{"speaker": "customer",
                               "text": fill(rng, rng.choice(CUSTOMER[lang]))}]
    return line


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("count", type=int)
    ap.add_argument("--tenants", type=int, default=64)
    ap.add_argument("--seed", type=int, default=42)
    args = ap.parse_args()
    rng = random.Random(args.seed)
    tenants = [str(uuid.UUID(int=rng.getrandbits(128), version=4)) for _ in range(args.tenants)]
    base_ms = 1_760_000_000_000
    out = sys.stdout
    for i in range(args.count):
        out.write(json.dumps(interaction(rng, tenants, i, base_ms), ensure_ascii=False) + "\n")


if __name__ == "__main__":
    main()
