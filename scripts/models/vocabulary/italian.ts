/** Common Italian words for the tiny en-it model's vocabulary (whole words; `▁` is added later). */
export const italianWords: readonly string[] = `
il lo la i gli le un uno una di a da in con su per tra fra e o ma se che non più anche come
dove quando perché quindi però già ancora sempre mai molto poco tutto tutti tutte niente qualcosa
questo questa questi quello quella quelli mio tuo suo nostro vostro loro io tu lui lei noi voi
essere avere fare dire andare venire vedere sapere potere volere dovere stare dare parlare
pensare trovare sentire lasciare prendere guardare chiamare lavorare vivere capire credere
leggere scrivere imparare aspettare cercare portare mettere aiutare spiegare cominciare finire
è sono era erano sarà ha hanno aveva fa fanno dice può deve vuole c'è abbiamo siamo
anno anni giorno giorni tempo mondo vita uomo donna bambino bambini persona persone casa città
paese lavoro parte modo cosa cose volta mano occhi parola parole lingua voce storia acqua luce
musica scuola famiglia amico amici soldi mercato azienda governo politica economia scienza
ricerca sistema dati modello computer tecnica futuro idea ragione obiettivo risultato energia
clima ambiente natura terra sole cielo mare montagna albero animale cibo macchina treno strada
grande piccolo nuovo vecchio giovane lungo breve alto basso buono cattivo bello vero giusto
possibile facile difficile veloce lento importante certo chiaro primo ultimo altro stesso
oggi domani ieri adesso qui lì bene male sì no grazie prego forse davvero proprio solo circa
due tre quattro cinque dieci cento mille milione percento minuto ora secondo settimana mese
Italia Europa America Roma pace guerra salute cultura arte immagine film libro numero spazio
luogo lato forma forza lotta legge stato società significato esperienza domanda risposta
problema esempio fine inizio nel nella dei delle del della al alla ai alle dal dalla sul sulla
traduci italiano
`.split(/\s+/).filter((word) => word.length > 0);
