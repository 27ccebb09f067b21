/*
 * stopwords.c (internal) — compiled-in function-word and filler lists.
 * Original work for this library, MIT licence (see libs/nlp/README.md).
 */
#include "stopwords.h"

const char *const nlp_stopwords[L_COUNT] = {
    [L_EN] = "a about above after again against all am an and any are aren't as at be because "
             "been before being below between both but by can can't cannot could couldn't did "
             "didn't do does doesn't doing don't down during each few for from further had "
             "hadn't has hasn't have haven't having he her here hers herself him himself his "
             "how i i'm i've i'll i'd if in into is isn't it it's its itself let's me more most "
             "my myself no nor not now of off on once only or other our ours out over own same "
             "she should so some such than that that's the their them then there there's these "
             "they this those through to too under until up very was wasn't we were weren't "
             "what when where which while who whom why will with won't would wouldn't you "
             "you're your yours yourself also get got still already yet please thanks thank "
             "hello hi yes okay ok oh well really just want need going gonna you've we're "
             "they're could've every keep keeps kept again always since many much even ever "
             "come came go goes went put take took give gave times time",
    [L_PT] = "a à ao aos aquela aquele aqueles aquilo as até com como da das de dela dele deles "
             "do dos e é ela elas ele eles em entre era eram essa essas esse esses esta está "
             "estão estas estava este estes estou eu foi fomos foram fui há isso isto já lhe "
             "lhes mais mas me mesmo meu meus minha minhas muito muita na não nas nem no nos nós "
             "nossa nosso num numa o os ou para pela pelas pelo pelos por porque qual quando que "
             "quem se sem ser seu seus só sua suas também te tem têm tenho ter teu tua você "
             "vocês vou vai pra pro ainda agora aqui ali então tudo nada obrigado obrigada olá "
             "oi bom dia boa tarde noite sim gostaria quero queria fazer tá né pode poderia "
             "consigo preciso hoje ontem depois antes sobre um uma uns umas estou ficou fiz "
             "seria cadê deste desta destes destas neste nesta nisso disso daquele daquela "
             "daqui lá mim comigo veio vem sempre novo nova",
    [L_ES] = "a al algo algunos ante antes como con contra cual cuando de del desde donde dos el "
             "él ella ellas ellos en entre era es esa esas ese eso esos esta está están estas "
             "este esto estos estoy fue fui ha hay hasta la las le les lo los me mi mis mucho "
             "muy más nada ni no nos nosotros o otra otro para pero poco por porque que qué "
             "quien se ser si sí sin sobre su sus también te tengo tiene tienen todo tu tus un "
             "una unos uno usted ustedes y ya yo hola gracias buenos buenas días tardes bueno "
             "quiero quisiera necesito puedo puede hacer hoy ayer después ahora aquí allí "
             "entonces dónde pues oiga señor señora estaba tenía había sido este esta "
             "mí conmigo siempre otra vez veces nuevo nueva",
    [L_FR] = "le la les un une des de du et est sont pas ne je tu il elle nous vous ils elles "
             "mon ma mes ton ta ses son sa leur avec pour dans sur par ce cette ces qui que quoi "
             "où mais ou donc très bien merci bonjour oui non suis êtes avoir être fait été "
             "aussi plus moins comme au aux y en c'est j'ai",
    [L_DE] = "der die das und ist sind nicht ich du er sie es wir ihr mein meine dein ein eine "
             "einen dem den des mit für auf aus bei nach von zu im in am um aber oder wenn dass "
             "wie was wer wo sehr auch noch schon nur danke bitte hallo ja nein habe hat haben "
             "war bin kann können",
    [L_IT] = "il lo la gli le un una di da del della dei delle che non è sono ho ha hanno io tu "
             "lui lei noi voi loro mio mia con per su tra fra ma anche molto grazie ciao "
             "buongiorno sì no questo questa quello come quando dove perché sempre ancora già "
             "più meno stato essere avere fatto",
};

const char *const nlp_fillers[L_COUNT] = {
    [L_EN] = "yeah yep yup nope um uh hmm hm ah sir madam ma'am sure right alright morning "
             "afternoon evening bye goodbye hey anyway actually basically something anything "
             "everything thing things lot one two three call called calling say said tell told "
             "know make made try tried see look let help today",
    [L_PT] = "ok tá né então aí tipo beleza certo senhor senhora tchau bem sabe olha coisa "
             "coisas alguma algum dizer disse vez falar ligar liguei ver saber fazer fiz "
             "ajudar posso verificar momento aguarde",
    [L_ES] = "vale bueno pues eh señor señora adiós claro mira oye cosa cosas alguna algún vez "
             "decir dijo hablar llamar llamé ver saber hacer hice ayudar verificar momento",
    [L_FR] = "alors voilà bon euh",
    [L_DE] = "also ok gut na",
    [L_IT] = "allora ecco beh",
};
