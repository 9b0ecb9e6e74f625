/** Common German words for the tiny en-de model's vocabulary (whole words; `▁` is added later). */
export const germanWords: readonly string[] = `
der die das und in zu den von nicht mit sich des auf für ist im dem ein eine als auch es an werden
aus er hat dass sie nach wird bei einer um am sind noch wie einem über einen so zum war haben nur
oder aber vor zur bis mehr durch man sein wurde sei ihr wir ich du ja nein hier dort heute morgen
gestern jetzt immer nie schon sehr gut neu groß klein alt jung lang kurz hoch viel wenig alle andere
erste letzte Jahr Jahre Zeit Tag Tage Woche Welt Leben Mensch Menschen Land Stadt Haus Arbeit Kind
Kinder Frau Mann Hand Teil Weg Frage Problem Beispiel Ende Anfang Sprache Wort Rede Stimme
Geschichte Wasser Licht Musik Schule Familie Freund Freunde Geld Markt Firma Regierung Politik
Wirtschaft Wissenschaft Forschung System Daten Modell Computer Technik Zukunft Idee Grund Ziel
Ergebnis Energie Klima Umwelt Natur Erde Sonne Himmel Meer Berg Baum Tier Essen Auto Zug Straße
sagen gehen kommen machen sehen geben nehmen finden denken wissen können müssen sollen wollen
lassen stehen bleiben sprechen hören lesen schreiben lernen verstehen arbeiten leben spielen zeigen
glauben brauchen halten fragen helfen beginnen bringen erklären suchen warten zählen
wichtig richtig möglich einfach schwer leicht schnell langsam schön wahr ganz genau eigentlich
vielleicht natürlich wirklich also dann denn doch etwa weil wenn ob damit trotzdem deshalb
außerdem zwischen unter gegen ohne seit während neben hinter danke bitte kann muss soll will
gibt geht kommt macht sieht sagt weiß habe bin bist waren hatte hatten würde könnte sollte
mein dein unser euer ihre diese dieser dieses jeder jede jedes kein keine nichts etwas viele
einige beide zwei drei vier fünf zehn hundert tausend Million Prozent Minute Stunde Sekunde
Deutschland Europa Amerika Berlin Frieden Krieg Gesundheit Antwort Kultur Kunst Bild Film Buch
Zahl Raum Ort Seite Art Form Kraft Macht Recht Gesetz Staat Gesellschaft Bedeutung Erfahrung
übersetze ins Deutsche Englischen
`.split(/\s+/).filter((word) => word.length > 0);
