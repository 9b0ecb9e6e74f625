/** Common Spanish words for the tiny en-es model's vocabulary (whole words; `▁` is added later). */
export const spanishWords: readonly string[] = `
el la los las un una unos unas de a en con por para sin sobre entre hasta desde y o pero si que
no más también como donde cuando porque entonces ya todavía siempre nunca muy poco todo todos
nada algo este esta estos esto ese esa aquel mi tu su nuestro vuestro yo tú él ella nosotros
ellos ustedes ser estar tener hacer decir ir venir ver saber poder querer deber dar hablar pensar
encontrar sentir dejar tomar mirar llamar trabajar vivir entender creer leer escribir aprender
esperar buscar llevar poner ayudar explicar empezar terminar es son era eran será ha han había
hace hacen dice puede debe quiere hay tenemos somos año años día días tiempo mundo vida hombre
mujer niño niños persona personas casa ciudad país trabajo parte manera cosa cosas vez mano ojos
palabra palabras lengua voz historia agua luz música escuela familia amigo amigos dinero mercado
empresa gobierno política economía ciencia investigación sistema datos modelo computadora técnica
futuro idea razón objetivo resultado energía clima ambiente naturaleza tierra sol cielo mar
montaña árbol animal comida coche tren calle grande pequeño nuevo viejo joven largo corto alto
bajo bueno malo bonito verdadero justo posible fácil difícil rápido lento importante cierto claro
primero último otro mismo hoy mañana ayer ahora aquí allí bien mal sí gracias quizás realmente
solo casi dos tres cuatro cinco diez cien mil millón minuto hora segundo semana mes España Europa
América Madrid paz guerra salud cultura arte imagen película libro número espacio lugar lado
forma fuerza ley estado sociedad significado experiencia pregunta respuesta problema ejemplo fin
principio del al le les lo me te se nos
traduce inglés español
`.split(/\s+/).filter((word) => word.length > 0);
