/*
 * outcome_data.c (internal) — escalation, resolution and churn phrases.
 * Original work for this library, MIT licence (see libs/nlp/README.md).
 */
#include "outcome_data.h"

const char *const nlp_outcome_phrases[OUT_KINDS][L_COUNT] = {
    [OUT_ESCALATION] =
        {
            [L_EN] =
                "speak to * manager|speak with * manager|talk to * manager|talk with * manager|"
                "speak to * supervisor|speak with * supervisor|talk to * supervisor|"
                "talk with * supervisor|get * manager|get * supervisor|want * manager|"
                "want * supervisor|need * manager|need * supervisor|your manager|"
                "your supervisor|manager please|supervisor please|escalate*|escalation|"
                "someone in charge|someone higher up|someone senior|"
                "transfer you to * supervisor|transfer you to * manager|file a formal complaint",
            [L_PT] = "falar com * supervisor|falar com * supervisora|falar com * gerente|"
                     "falar com * responsável|falar com * superior|chamar * supervisor|"
                     "chamar * gerente|quero * supervisor|quero * gerente|seu supervisor|"
                     "sua supervisora|seu gerente|transferir * supervisor|transferir * supervisora|"
                     "escalar|escalonar|ouvidoria",
            [L_ES] = "hablar con * supervisor|hablar con * supervisora|hablar con * gerente|"
                     "hablar con * encargado|hablar con * superior|hablar con * responsable|"
                     "llamar * supervisor|quiero * supervisor|quiero * gerente|su supervisor|"
                     "su gerente|transferir * supervisor|escalar|hoja de reclamaciones",
        },
    [OUT_RESOLVED] =
        {
            [L_EN] = "resolved|solved|fixed|that fixed it|that fixes it|it works now|works now|"
                     "working now|it's working|it is working|problem solved|issue resolved|"
                     "all sorted|sorted|that did it|that did the trick|all set|up and running",
            [L_PT] = "resolvido|resolvida|resolveu|resolveram|solucionado|solucionada|funcionou|"
                     "deu certo|está funcionando|voltou a funcionar|problema resolvido|"
                     "tudo certo agora|agora funciona",
            [L_ES] = "resuelto|resuelta|solucionado|solucionada|se solucionó|ya funciona|"
                     "funciona ahora|funcionó|quedó resuelto|ahora funciona|problema resuelto",
        },
    [OUT_UNRESOLVED] =
        {
            [L_EN] = "still not working|still doesn't work|still does not work|still broken|"
                     "still having * problem|still having * issue|still the same|didn't help|"
                     "did not help|no solution|same problem|same issue|problem persists|"
                     "keeps happening|still happening",
            [L_PT] = "continua sem funcionar|ainda não funciona|continua com problema|"
                     "continua o mesmo|continua igual|mesmo problema|não adiantou|"
                     "nada resolvido|sem solução|continua acontecendo",
            [L_ES] = "sigue sin funcionar|todavía no funciona|sigue igual|no sirvió|"
                     "mismo problema|sin solución|sigue pasando|nada resuelto",
        },
    [OUT_CHURN] =
        {
            [L_EN] = "cancel * subscription|cancel * account|cancel * service|cancel * contract|"
                     "cancel * plan|cancel * membership|close * account|terminate * contract|"
                     "terminate * service|want to cancel|going to cancel|like to cancel|"
                     "need to cancel|will cancel|i'll cancel|thinking of cancel*|"
                     "thinking about cancel*|switching to|switch providers|switch to another|"
                     "going with another|competitor|competitors|take my business elsewhere|"
                     "i'm leaving|i am leaving|i will leave|won't renew|will not renew|"
                     "not going to renew|unsubscribe|done with you|last straw",
            [L_PT] = "vou cancelar|quero cancelar|gostaria de cancelar|preciso cancelar|"
                     "cancelar * assinatura|cancelar * plano|cancelar * conta|cancelar * serviço|"
                     "cancelar * contrato|encerrar * conta|mudar de operadora|trocar de operadora|"
                     "mudar de empresa|trocar de empresa|concorrente|concorrência|portabilidade|"
                     "vou sair|não vou renovar|cancelamento",
            [L_ES] = "voy a cancelar|quiero cancelar|quisiera cancelar|necesito cancelar|"
                     "cancelar * suscripción|cancelar * cuenta|cancelar * servicio|"
                     "cancelar * contrato|dar de baja|darme de baja|cambiarme de compañía|"
                     "cambiar de compañía|cambiarme a|la competencia|me voy a otra|portabilidad|"
                     "no voy a renovar",
        },
};
