/*
 * taxonomy_default.c (internal) — the built-in customer-service taxonomy:
 * topics first, then intents. Patterns use the syntax of taxonomy.h.
 * Original work for this library, MIT licence (see libs/nlp/README.md).
 */
#include "taxonomy_default.h"

#include "nlp/taxonomy.h"

#define T NLP_CATEGORY_TOPIC
#define I NLP_CATEGORY_INTENT

const default_category_t nlp_default_taxonomy[] = {
    {"billing", "Billing", T,
     "bill|bills|billing|billed|invoice*|statement|charge|charges|charged|charged twice|"
     "double charged|overcharged|overcharge|fee|fees|late fee|extra charge",
     "fatura*|cobrança*|cobranca*|cobrado*|cobrada*|cobraram|cobrou|boleto*|taxa|taxas|tarifa*|"
     "mensalidade*|cobrado duas vezes|cobrança indevida|conta de luz|segunda via",
     "factura*|cobro*|cobrado*|cobrada*|cobraron|cargo|cargos|recibo*|tarifa*|comisión|"
     "comisiones|mensualidad*|cobrado dos veces|cobro indebido"},
    {"payment", "Payment", T,
     "payment*|pay|paid|paying|card declined|declined|credit card|debit card|paypal|"
     "transaction*|autopay|bank transfer|direct debit",
     "pagamento*|pagar|paguei|pago|cartão|cartao|cartão de crédito|pix|transferência|"
     "débito automático|recusado|recusada|parcela*|parcelamento",
     "pago|pagos|pagar|pagué|tarjeta|tarjeta de crédito|transferencia*|rechazado|rechazada|"
     "transacción|transacciones|domiciliación|cuota*"},
    {"pricing", "Pricing", T,
     "price*|pricing|cost|costs|expensive|cheap|cheaper|discount*|promo|promotion*|coupon*|"
     "how much|too much|overpriced|price increase|raised the price",
     "preço*|preco*|valor|valores|caro|barato|desconto*|promoção|promoções|promocao|cupom|"
     "quanto custa|custo*|aumento|reajuste",
     "precio*|costo*|coste*|caro|barato|descuento*|promoción|promociones|oferta*|cupón|"
     "cuánto cuesta|aumento|subida"},
    {"delivery", "Delivery", T,
     "deliver*|shipping|shipment*|shipped|package*|parcel*|courier|tracking|track my|"
     "arrive*|arrival|carrier|dispatch*|order status|where is my order|never arrived",
     "entrega*|entregue|entregar|frete|envio|enviado|pacote*|encomenda*|rastreio|"
     "rastreamento|transportadora|chegou|chegar|chegaram|correios|prazo de entrega|"
     "não chegou",
     "entrega*|envío*|envio*|enviado|paquete*|seguimiento|transportista|mensajería|"
     "repartidor|llegó|llegar|no llegó|llegaron|no llegaron|no ha llegado|no llega|"
     "plazo de entrega|mi pedido"},
    {"technical_problem", "Technical problem", T,
     "not working|doesn't work|does not work|stopped working|isn't working|error*|bug|bugs|"
     "buggy|crash*|broken|outage|offline|no signal|no internet|connection|can't connect|"
     "cannot connect|freez*|frozen|glitch*|reboot|restart|install*|update failed|app|"
     "internet * down|service * down|is down|been down|keeps dropping|disconnect*|"
     "slow internet|slow connection",
     "não funciona|nao funciona|parou de funcionar|não está funcionando|erro|erros|bug|"
     "travando|travou|trava|sem sinal|sem internet|conexão|conexao|caiu|fora do ar|"
     "instabilidade|reiniciar|instalar|instalação|atualização|aplicativo|app|"
     "internet * caiu|sem conexão|internet lenta|caindo",
     "no funciona|dejó de funcionar|error|errores|fallo*|falla*|sin señal|sin internet|"
     "conexión|conexion|caído|se cae|reiniciar|instalar|instalación|actualización|"
     "aplicación|app|internet lento|sin conexión|se corta"},
    {"account_access", "Account access", T,
     "log in|login|logged out|sign in|signin|password*|reset password|forgot password|"
     "locked out|account locked|blocked account|two-factor|2fa|verification code|username|"
     "access my account|can't access",
     "login|logar|entrar na conta|senha*|esqueci a senha|conta bloqueada|bloquead*|acesso|"
     "acessar|código de verificação|usuário|não consigo entrar",
     "iniciar sesión|login|contraseña*|olvidé mi contraseña|cuenta bloqueada|bloquead*|"
     "acceso|acceder|código de verificación|usuario|no puedo entrar"},
    {"product_quality", "Product quality", T,
     "quality|defect*|damaged|faulty|broken item|wrong item|wrong size|doesn't fit|"
     "poor quality|material|scratched|missing parts",
     "qualidade|defeito*|defeituos*|danificad*|produto errado|veio errado|tamanho errado|"
     "quebrad*|avariad*|riscado",
     "calidad|defecto*|defectuos*|dañad*|producto equivocado|talla equivocada|roto|rota|"
     "rayado"},
    {"customer_service", "Customer service", T,
     "agent|representative|customer service|support team|wait time|waiting|on hold|"
     "hold time|hung up|transferred|call back|callback|no one answers|attendant|rude",
     "atendente*|atendimento|suporte|espera|esperando|aguardando|fila|transferid*|retorno|"
     "ligação caiu|desligou|ninguém atende|mal atendid*|grosseir*",
     "agente|asesor*|atención al cliente|servicio al cliente|soporte|espera|esperando|"
     "en espera|transferid*|me colgaron|nadie contesta|grosero"},
    {"subscription", "Subscription and plan", T,
     "subscription*|my plan|the plan|new plan|current plan|data plan|change my plan|"
     "upgrade|downgrade|renewal|renew*|membership|contract",
     "assinatura*|plano|planos|mudar de plano|trocar de plano|upgrade|renovação|renovar|"
     "contrato|fidelidade|pacote de dados",
     "suscripción|suscripciones|plan|planes|cambiar de plan|renovación|renovar|membresía|"
     "contrato|permanencia"},
    {"cancellation", "Cancellation", I,
     "cancel*|terminate|termination|close my account|close the account|"
     "end my subscription|unsubscribe|stop my subscription|opt out",
     "cancel*|encerrar|encerramento|desistir|rescindir|rescisão|quero sair|"
     "portabilidade",
     "cancel*|dar de baja|darme de baja|baja del servicio|rescindir|anular"},
    {"refund", "Refund", I, "refund*|money back|reimburse*|chargeback|return my money|credit back",
     "reembolso*|reembolsar|estorno*|estornar|devolução do dinheiro|devolver o dinheiro|"
     "dinheiro de volta|ressarcimento",
     "reembolso*|reembolsar|devolución del dinero|devolver el dinero|dinero de vuelta|"
     "contracargo"},
    {"return_exchange", "Return or exchange", I,
     "return it|return the|return this|exchange|replacement|replace it|send it back",
     "trocar|troca|devolver o produto|devolução|substituição|mandar de volta",
     "devolver|devolución|cambio|reemplazo|cambiar el producto"},
    {"complaint", "Complaint", I,
     "complain*|unacceptable|ridiculous|terrible|worst|disappointed|frustrated|fed up|"
     "this is a joke|not happy|unhappy|disgrace",
     "reclamação|reclamacao|reclamar|reclamo|absurdo|inaceitável|péssimo|péssima|"
     "decepcionad*|insatisfeit*|procon|reclame aqui|falta de respeito|descaso|vergonha",
     "queja*|reclamo*|reclamación|quejarme|inaceptable|pésimo|pésima|decepcionad*|"
     "insatisfech*|falta de respeto|vergüenza"},
    {"praise", "Praise", I,
     "thank you so much|great service|excellent|amazing|awesome|well done|good job|"
     "great job|very helpful|appreciate it|recommend|fantastic",
     "parabéns|excelente|ótimo atendimento|muito obrigad*|adorei|amei|recomendo|nota 10|"
     "atendimento excelente|muito prestativ*|maravilhoso",
     "felicidades|excelente|muy amable|muchas gracias|me encantó|recomiendo|"
     "excelente servicio|muy buen servicio|maravilloso"},
    {"information_request", "Information request", I,
     "how do i|how to|can you tell me|i would like to know|information about|"
     "question about|i have a question|wondering",
     "como faço|como faz para|gostaria de saber|queria saber|informação|informações|"
     "dúvida*|tenho uma pergunta",
     "cómo hago|quisiera saber|me gustaría saber|información|duda*|tengo una pregunta"},
    {"purchase", "Purchase", I,
     "buy|purchase*|new order|sign up|subscribe|interested in|want to buy|place an order",
     "comprar|compra|contratar|assinar|quero adquirir|tenho interesse|novo pedido",
     "comprar|compra|contratar|suscribirme|me interesa|nuevo pedido"},
};

const size_t nlp_default_taxonomy_len =
    sizeof(nlp_default_taxonomy) / sizeof(nlp_default_taxonomy[0]);
