"""A small multilingual concept lexicon: words of 13 languages mapped to shared concepts.

Why: the corpus has hundreds of Finnish, Swedish and English messages but only a few dozen per
other language, and a bag of words cannot know that "löschen", "supprimer", "kustutada" and
"poistakaa" mean the same thing.  Each word that names a concept the rights turn on (delete,
my data, newsletter, stop, correct, address, restrict, object, machine-readable, order,
invoice…) adds a concept token, and the message's concept tokens form a second, language-free
sequence ("@delete @my @data" vs "@delete @order") whose unigrams and bigrams the model learns
from all languages at once.

Entries are folded (``features.fold``: lower case, no diacritics).  ``word*`` matches by prefix,
``word`` exactly; ``fi:word`` applies only to text detected as that language (short words that
mean different things in different languages).  The longest matching prefix wins, exact entries
before prefixes.
"""

from __future__ import annotations

from collections.abc import Iterable
from itertools import chain, groupby

from classifiers.langid import LANGUAGES

_LEXICON: dict[str, str] = {
    "delete": """
        delet* eras* remov* wipe* purge* poist* havit* havittak* tuhot* radera* radering*
        sv:bort sv:tabort losch* loesch* entfern* supprim* effac* verwijder* nl:wis nl:wissen
        borrar* borre* borren* borrad* elimin* suprim* supres* cancella* cancellaz* rimuov*
        rimoz* apag* exclu* kustut* eemalda* slet* fjern* usun* usuw* skasow* wymaz*
        tilg* vernicht* detrui* destroy* vernietig* destru* distrugg* forstor*
    """,
    "forget": """
        unoht* unohd* glomd* glomma* forget* forgott* vergess* vergeet* vergetel* oubli*
        olvid* oblio* esquec* unust* glemt* glemme* glemm* zapomn*
    """,
    "cancel": """
        cancel cancels cancelled canceled cancelling canceling cancellation cancellations
        peru* avbest* avboka* storn* annul* anular* anull* annull* cancelar cancelamento
        cancelacion tuhist* afbestil* avbestil* anulowa* anuluj* irtisan* uppsag* sags* kundig*
        opzeg* resili* rescind* disdett* rezygn*
    """,
    "account": """
        fi:tili fi:tilin fi:tilini fi:tilit fi:tilille fi:tililla fi:tilia fi:tiliin fi:tilinne
        konto* account* compte* cuenta* it:conto pt:conta pt:contas asiakkuu* asiakassuhte*
        asiakastili* kundkonto* kundenkonto* profile profiles profil profilen profiel
        kayttajatil* kayttajatun* user* benutzer* utilisateur* gebruiker* usuario* utente*
        utilizador* kasutaja* bruger* bruker* uzytkown*
    """,
    "data": """
        data dataa datan dato datos dati dados daten* donnee* gegeven* tieto* tiedo* tiedot
        tietoj* tietoi* henkilotie* asiakastie* yhteystie* uppgift* personuppgift* kunduppgift*
        informat* informaci* informaz* informac* oplysning* opplysning* andme* dane danych*
        danymi* info infos details record records personal* persoonsgegev* personbezog*
        personnel* personal personali persoonlijk* henkilokoht* personlig* osobow* isiku*
        note notes merkinn* merkint* anteckn* notiz* vermerk* remarque* notitie* notat*
        historik* history historia* historie* geschichte*
    """,
    "register": """
        rekister* register* registr* databas* database* tietokan* datenbank* kartote* cadastr*
        andmebaas* kundregist* asiakasrek* kundendat* fichier* bestand* archiv* arkist*
        system* systeem* sistem* jarjestelm*
    """,
    "what": """
        mita mitka millaisia millaista vad vilka vilken vilket what which welche welcher
        welches quoi quelles quels quelle wat welke cuales cosa quali quais mida milliseid
        hvad hvilke hvilken hva jakie jaki
    """,
    "copy": """
        kopio* kopia* kopie* copie* copia* copy copies ote otteen registerutdrag* utdrag*
        auszug* extrait* uittreksel* extracto* estratto* extrato* valjavote* udskrift*
        utskrift* wyciag* yleiskat* overview* oversikt* ubersicht* uebersicht* apercu*
        overzicht* resumen* riepilog* resumo* ulevaade* oversigt* zestawien* summary
    """,
    "insight": """
        insyn* innsyn* indsigt* inzage* auskunft* auskunfts* access acces accesso acceso
        acesso dostep* juurdepaas* tarkastusoik* tarkastuspyyn* tiedonsaant* rekisteriot*
        einsicht* einseh* inzien*
    """,
    "know": """
        tietaa tietaisin tietaakseni nahda nahdakseni fi:nahtavakseni sv:veta sv:se see know
        wissen erfahren savoir connaitre consulter weten saber conocer sapere conoscere
        conhecer teada naha vide vite wiedziec dowiedz*
    """,
    "source": """
        mista lahde lahteen lahteet lahteena varifran sv:kalla sv:kallan source sources
        where woher herkunft* de:quelle origine* herkomst* origen* provenien* origem* allikas*
        allika* kilde* kilden hvorfra zrodl* skad
    """,
    "share": """
        luovut* jaet* jaett* jakane* delat* delats share shared sharing disclos* recipient*
        vastaanottaj* mottagar* empfang* weitergegeb* weitergeleit* weitergab* weitergeg*
        destinatair* communique* ontvanger* gedeeld* doorgegeven* doorgeg* destinatari*
        compartid* comparti* condivis* partilh* jagat* jaga* saaja* modtager* mottaker*
        odbiorc* udostepn* tredje* third kolmans* kolmann* kolmas* dritte* tiers terceir*
        tercer* terz* derde* kolmand* trzec* sold verkauft* myyty* myynyt* vendu* vendid*
        vendut* verkocht* solgt*
    """,
    "retain": """
        kauan kauanko sailyt* sailytet* sailytys* sparas sparar sparat lagra* lagrar* lagrat*
        retain* retention keep keeping kept store stored storing speicher* aufbewahr* conserv*
        bewaar* bewaard bewaren guard* gard* sailita* sailit* opbevar* oppbevar* przechow*
        long lange longtemps temps tiempo tempo kaua dlugo
    """,
    "correct": """
        korjat* korjaa* korjau* korjaus* korjatk* paivit* oikais* oikaise* vaihta* vaihto*
        vaihd* muutt* muuto* muutos* muuttu* ratta* rattel* rattn* sv:andra sv:andras andrad*
        andring* uppdater* korriger* korrig* correct* update* updat* amend* rectif* berichtig*
        aktualis* andern* anderung* geandert* abander* corrig* modifi* wijzig* verbeter*
        aanpass* actualiz* rettific* aggiorn* modific* atualiz* parand* uuend* et:muuta
        et:muutke opdater* rette* retting* endr* zmien* zmian* popraw* zaktualiz* aktualiz*
        change changed changes changing
    """,
    "wrong": """
        vaara vaaraa vaaria vaarin vaarat vanhentun* virheel* virhe* fel felaktig* felstav*
        incorrect* wrong* outdat* mistake* misspel* falsch* veraltet* fehler* erron* erreur*
        fout* onjuist* verouderd* errone* equivoc* sbagliat* errat* incorret* errad* et:vale
        et:valed forkert* feil* feilstav* bledn* blad* nieaktual* typo
    """,
    "address": """
        osoit* adress* address* adresse* adres* direcci* indirizz* endere* aadress* anschrift*
        postadress* postiosoit* katuosoit* wohnadress*
    """,
    "phone": """
        puhelin* puh gsm matkapuh* telefon* phone* mobil* handy* telephon* telefoo* telefono*
        telemov* telefone*
    """,
    "call": """
        soitt* soitel* puhelu* ringa ringer ringt ringde samtal* call calls calling called
        anruf* angeruf* appel* appeler bellen gebeld llamad* llamar chiamat* chiamar* chamad*
        ligac* helista* et:kone* ringe ringer opkald* oppringing* dzwon* telefonuj*
    """,
    "photo": """
        photo* kuva kuvat kuvia kuvan kuvassa kuvani bild bilder bilden bilderna foto* image*
        picture* pictures zdjec* video* videot*
    """,
    "number": """
        numer* nummer* number* numero* nro nr no
    """,
    "email": """
        sahkopost* spost* sahkopostiosoit* email* mail mails mailit* epost* courriel* correo*
        it:posta meil* mejl*
    """,
    "name": """
        nimi nimen nimeni nimesi nimea nimeksi heter heisse heisst sukunim* etunim* namn*
        efternamn* fornamn* name
        names named surname* nachname* vorname* fr:nom nombre nombres naam* achternaam*
        apellid* cognom* nome apelid* perekonnanim* eesnim* navn* efternavn* etternavn*
        nazwisk* imie imienia
    """,
    "moved": """
        muutin muutimme muuttanut muuttaneet flyttat flyttade flyttar flyttet moved relocat*
        umgezog* umzug* umzieh* demenag* verhuis* mudado mudei mudanza traslad* trasferit*
        kolisin kolinud przeprowadz*
    """,
    "newsletter": """
        uutiskirj* newsletter* nyhetsbrev* nyhedsbrev* nieuwsbrie* boletin* boletim* uudiskir*
        biuletyn* infokirj* tiedote* tiedottee* infobrev* rundbrief* lettre lettres
    """,
    "marketing": """
        markkinoin* mainos* mainon* marknadsf* reklam* marketing* werb* publicit* reclame*
        publicidad* pubblicit* publicidade* reklaam* promo* kampanj* campaign* campagn*
        erbjudand* tarjousviest* suoramarkkin* direktmark* direktreklam* advert* annon*
        mainoskirj* mainospost* offers brochure* catalog* katalog* esite* esitte* prospekt*
        depliant* folleto* opuscol* folheto* kataloog* ulotk* telemarket* puhelinmyyn*
        telefonforsalj* saljsamtal* forsaljningssamtal* sms tekstiviest* textmeddel*
    """,
    "list": """
        postitusl* lista* listal* listalt* listoil* list* liste* lijst* verteil* mailinglist*
        mailinglijst* jakel* utskick* sandlist* distribut* mailing*
    """,
    "unsubscribe": """
        unsubscri* avregistr* avanmal* avprenum* abmeld* abbestell* desabonn* desinscri*
        uitschrijv* afmeld* baja disiscri* descadastr* desubscr* loobu* avmeld* wypis* optout
        opt
    """,
    "subscription": """
        tilaaj* prenumer* subscri* abonn* suscri* iscri* iscriz* assin*
        tellija* abonnent* prenumerat* inscri* aanmeld* anmeld*
    """,
    "add": """
        lisatk* lisaa lisaisit* lisaatte lisatkaa liity* liitty* liittya* liittyn* sv:lagg
        sv:lagga sv:lagger add adding added join* signup sign hinzufug* aufnehm* ajout*
        ajoute* ajouter inscrivez toevoeg* voeg anad* anadir* aggiung* adicion* incluir*
        includ* tilfoj* legg dodaj* dopis* anmal* ilmoittau* member*
        jasen* medlem* mitglied* membre* lid* miembro* socio* liige* czlon*
    """,
    "confirm": """
        vahvistu* vahvistettu* vahvistit* bekraftel* bekraftat* confirmed confirmation
        bestatigt* confirme* bevestigd* confirmad* confermat* confirmad* kinnitat* bekraeft*
        bekreft* potwierdz* jo sv:redan already schon deja nl:al ya gia pt:ja juba allerede
        allerede juz tehty tehtiin valmis klart klar done erledigt fait gedaan hecho fatto
        feito tehtud gjort udfort zrobion*
    """,
    "stop": """
        lopett* lopeta* lopet* lakatk* lakkaut* sluta* upphor* stop* stopp* aufhor* einstell*
        arret* cesser* cess* dejar* dejen smett* parar* pare ophor* stans* przesta* zaprzest*
        halt
    """,
    "nomore": """
        enaa enempaa langre anymore longer mehr fr:plus meer es:mas piu pt:mais enam da:mere
        mer wiecej
    """,
    "want": """
        halua* toivo* sv:vill sv:onskar da:vil nb:vil want* wish* wunsch* mocht* de:will
        de:wollen veux voudrais souhait* nl:wil wens* quiero quisiera dese* vorrei voglio
        desider* quero queria gostaria soovi* taha* onsk* chce* chcial* prefer* would
    """,
    "neg": """
        fi:en fi:ei fi:emme fi:eivat fi:ette fi:ala fi:alkaa fi:alkaako fi:alko sv:inte sv:ej
        sv:icke sv:aldrig en:not en:dont en:don en:no en:never en:nor de:nicht de:kein
        de:keine de:keinen de:keinerlei de:nie fr:ne fr:pas fr:jamais fr:aucun nl:niet
        nl:geen nl:nooit es:no es:nunca it:non it:mai pt:nao pt:nunca et:ei et:mitte
        da:ikke da:aldrig nb:ikke nb:aldri pl:nie
    """,
    "send": """
        lahett* lahetta* lahetet* skick* send* sent schick* zusend* senden versend* zugesand*
        envoy* envoi* stuur* sturen* toestur* verstuur* toegestuurd* enviar* envia* envie*
        invia* inviar* inviat* et:saatke et:saata et:saatma et:saatnud et:saadate sende*
        wysyl* przesl* wyslan* postitta* posta*
    """,
    "receive": """
        vastaanot* fi:saada fi:saan fi:saisin fi:saamaan fi:saamme fi:tulee fi:tulevat
        receiv* erhalt* bekomm* recev* recoi* ontvang* recib* ricev* receb* modtag* motta*
        otrzym* sv:fa sv:far
    """,
    "consent": """
        suostum* samtyck* consent* einwillig* zustimm* toestemming* consentim* consenso*
        consentimento* nousolek* samtykk* zgod* lupa* luvan* tillstand* permission*
    """,
    "withdraw": """
        aterkall* tillbaka withdraw* revok* revoc* widerruf* zuruckzieh* retir* revoqu*
        intrek* ingetrokken* ritir* tagasi* tilbagekald* tilbake wycof* odwol* odwoluj*
    """,
    "object": """
        vastust* kiella* kielto* kiellan* invand* motsatt* forbjud* object* oppos* oppose
        widerspr* widersp* untersag* verbiet* bezwaar* verzet* opong* oposic* opongo oppong*
        opposiz* oppongo opor oponho oposica* vastuvaidl* vastu keela* keelan* indsigel*
        protester* motsett* sprzeciw* zakaz* nekt*
    """,
    "profiling": """
        profiling* profilointi* profiloi* profilering* profilierung* profilage* profilazione*
        profilado* perfilado* perfilaje* profilowan* profileerimi* profiler* seuran* seurat*
        tracking* track* cookie* evaste* analytic* analyys* analys* kohdenn* target* personoi*
        riktad* gerichte* cibl* dirigid* mirat* segment* personalis* personaliz* behavio*
        kaeyttaytym* kayttaytym* beteende* verhalten* comportement* gedrag* comportamiento*
        comportamento* kaitumis* adfaerd* atferd* zachowan* tracken* verfolg* suivi
    """,
    "automated": """
        automaat* automat* autom* automatis* automatiz* automatyc*
    """,
    "legit": """
        oikeutet* berattig* legitim* berechtig* gerechtvaard* uzasadn* oigustat* legittim*
    """,
    "process": """
        kasitt* kasitel* kaytt* hyodynt* behandl* anvand* process* use usage using used
        verarbeit* nutz* verwend* traitement* traite* traiter* utilis* verwerk* gebruik*
        tratamiento* tratar* trattament* trattar* utilizz* tratamento* utiliza* tootl* kasut*
        bruk* brug* przetwarz* wykorzyst* uzyw*
    """,
    "restrict": """
        rajoit* lukit* jaady* jaadyt* fi:estakaa fi:estaa fi:estamaan begrans* sparr* frys*
        restrict* limit* freez* frozen block* suspend* pause* einschrank* sperr* einfrier*
        beschrank* restrein* limita* bloqu* geler gele suspen* beperk* bevriez* blokk* blok*
        opschort* restring* congel* limitaz* blocc* sospend* restri* piira* peata* peatat*
        begraens* begrens* ogranicz* wstrzym* zablok* zamroz* hold
    """,
    "pending": """
        kunnes ennen selvit* tills until pending resolv* dispute* disput* kiist* riita*
        bestrid* de:bis jusqu* litige* contest* totdat* betwist* es:hasta fino finche pt:ate
        kuni indtil inntil wyjasn* ratkais* asti meanwhile
    """,
    "accuracy": """
        paikkansapit* oikeellisuu* oikeellis* riktighet* korrekthet* accura* inaccura*
        richtigkeit* unrichtig* exactitud* exactitude* inexact* juistheid* esattez* inesatt*
        exatid* inexat* oigsus* rigtighed* prawidlow* nieprawidl*
    """,
    "legalclaim": """
        oikeudenkay* oikeusjut* kanne* tuomioistu* rattegang* stamning* domstol*
        lawsuit* court legal litigation* rechtsstreit* gericht* de:klage tribunal* rechtbank*
        rechtszaak* juridi* tribunale* kohtu* retssag* rettssak* lawyer* asianajaj* advokat*
        anwalt* avocat* advocaat* abogad* avvocat* advogad* advokaa* adwokat* prawnik*
        claim* claims vaatimu* korvau* skadestand* schadenersatz*
    """,
    "format": """
        csv json xml excel xls xlsx koneluet* koneellise* konelue* maskinlas* maskinell*
        machine readable maschinenles* maschinell* lisible* machineleesb* legible* leggibil*
        legivel* masinloe* maskinlaes* maskinles* format* muodo* muodossa tiedosto* fil filen
        file files datei* fichier* bestand* archivo* fichero* file* ficheiro* et:fail et:faili plik*
        strukturo* struktur* structur* estructur* strutturat* estrutur* download* lataa*
        ladda* herunterl* telecharg* export* vienti*
    """,
    "transfer": """
        siirt* siirr* siirto* overfor* flytta sv:flyttas transfer* transmit* ubertrag*
        uebertrag* ubermittel* transmett* overdrag* overzet* overdrach* traspas* trasfer*
        trasmett* transfir* ulekand* ulekant* przenies* przenos* przekaz* portab* portier*
        move mover migrat* importer importera importieren
    """,
    "otherco": """
        toiseen toiselle toisen toinen toisel* uuteen uudelle sv:annan sv:annat another
        other competitor* kilpailij* konkurrent* competit* concurren* competid* concorren*
        konkurent* palveluntarjoaj* provider* anbieter* aanbieder* udbyder* operat*
    """,
    "order": """
        tilau* tilat* fi:tilasin tilaam* tilauk* bestall* order* bestell* commande* command*
        bestelling* bestel* es:pedido es:pedidos ordine* encomend* tellimus* tellis*
        ordre* bestilling* bestil* zamowien* zamowi* ostos* ostin kop* purchase* purchas*
        bought kauf* gekauft* achat* achete* aankoop* gekocht* compra* compre* compro comprato
        comprei acquist* ost*
    """,
    "invoice": """
        lasku* faktur* invoice* billing* bill rechnung* factur* factuu* fattur* arve* regning*
        kuitti* kvitto* receipt* quittung* recu ticket
    """,
    "refund": """
        hyvity* kreditera* kredit* credit* gutschrift* avoir rembours* creditnot* reembols*
        rimbors* tagasimakse* refund* terugbetal* palautu* palautus*
    """,
    "payment": """
        maksu* maksa* betal* payment* paid pay zahl* paiement* payer pago* pagament* pagar
        makse* platnos* zaplat* veloit* charge* charged debit* abbuchung*
    """,
    "duplicate": """
        tupla* kaksinker* kahdesti kahteen dubbel* duplicat* duplicate* doppel* doublon* twice
        duplicad* dupl* topelt* dobbelt* dubel* podwoj* zweimal* deux fois
    """,
    "delivery": """
        toimitus* toimitu* toimite* kuljet* paketti* leverans* levering* deliver* shipping*
        shipment* ship shipped liefer* versand* livraison* livr* bezorg* verzend* entrega*
        envio consegn* spedi* entreg* tarne* pakke* pakk* dostaw* przesylk* kurier* courier*
        posti postitse nouto* pickup nouda* hamt* abhol*
    """,
    "product": """
        tuote* tuotte* produkt* product* produit* producto* prodott* produto* toode* tootee*
        item items varan varor varorna ware*
    """,
    "broken": """
        rikki rikkoutu* viallin* vika* vioittun* vaurio* trasig* skadad* defekt* broken damage*
        defect* faulty beschadigt* kaputt* endommag* casse* kapot* roto* rotto* danneggi*
        danific* katki* odelagt* uszkodz* zepsut* reklamaa* reklamation* reclam* klacht* quej*
        complain* valitu* beschwerd* plainte* retur* return* palautt* palauta* kaebus* klage
        umtausch* vaihtoa
    """,
    "price": """
        hinta* hinnas* hinnat* hinnan pris* price* preis* prix* prijs* precio* prezz* preco*
        hind* cena* cost* kost* alennus* rabatt* discount* korting* descuent* sconto* desconto*
    """,
    "quote": """
        offert* quote* quotation* angebot* devis* offerte* presupuest* preventiv* orcament*
        pakkumi* tilbud* ofert* tarjouspyyn* tarjouks* tarjous* tarjoa*
    """,
    "job": """
        tyopaik* tyohakem* hakemu* ansiolu* cv resume* ansok* tjanst* jobb* job* position*
        vacanc* applicat* bewerb* lebenslauf* stelle* candidat* poste* sollicit* vacature*
        empleo* curricul* candidatur* vaga* toopakkum* kandideer* ansogning* stilling*
        soknad* rekrutac* aplikac* praca* harjoittel* praktik* internship* trainee* kesatyo*
        rekry* recruit* hire
    """,
    "password": """
        salasan* losenord* password* passwort* passe wachtwoord* contrasen* senha* parool*
        adgangskod* passord* hasl* pin
    """,
    "login": """
        kirjaud* kirjautu* logga* login* logon sign signin anmeldung* connexion* connect*
        inlog* sesion* sessao* sisselogi* zalogow* logowan* tunnu* tunnus* kayttajatunn*
    """,
    "reset": """
        reset* nollaa* nollat* nollau* aterstall* zurucksetz* reinitialis* herstel*
        restablec* reimpost* redefin* lahtesta* nulstil* tilbakestill* zresetow* forgot
        unohtu* unohdin glomt
    """,
    "meeting": """
        palaveri* kokou* tapaami* sv:mote sv:motet sv:moten nb:mote nb:motet da:mode
        meeting* besprechung* termin* reunion* vergader* afspraak* riunion* reuniao* kohtumi*
        koosole* spotkani* kalenteri* kalender* calendar* agenda* teams zoom
    """,
    "ooo": """
        loma lomalla lomall* lomaa lomani poissa toimistolt* toimistoll* semester* ledig*
        franvar* vacation* holiday* office urlaub* abwesen* conge* absen* vakantie* afwezig*
        vacacion* ausente* ferie* assente* ferias* puhkus* fravaer* urlop* nieobecn*
        tavoitettavi* reachable erreichbar* joignable* bereikbaar* raggiungibil* palaan
        returning zuruck* back
    """,
    "reply": """
        vastau* vastaa* vastaus* svar* reply* replies antwort* repons* reponse* antwoord*
        respuest* rispost* resposta* vastus* odpowied*
    """,
    "decision": """
        paatoks* paatos* paatokse* beslut* decision* entscheid* besliss* decisio* otsus*
        beslutning* decyzj*
    """,
    "click": """
        klikk* click* klick* klik* link* linkki* linkin verify verif* vahvista* tunnistau*
        suspend* locked lukittu* bitcoin* crypto* krypto* winner* voitt* prize* lottery* gift*
        lahja*
    """,
    "supplier": """
        toimittaj* alihankk* alihank* leverantor* underleverant* supplier* vendor* subcontract*
        lieferant* subunternehm* fournisseur* sous-trait* leverancier* onderaannem* proveedor*
        subcontrat* fornitor* subappalt* fornecedor* tarnija* allhank* leverandor*
        underleverandor* dostawc* podwykonaw* partner* kumppan* yhteistyo* reseller*
        jalleenmyy* aterforsalj* grossist* tukku*
    """,
    "contract": """
        sopimu* sopimuks* avtal* contract* agreement* vertrag* contrat* overeenkom* contrato*
        contratt* leping* kontrakt* aftal* avtale* umow* dpa auftragsverarbeit*
        kasittelysopim* tietojenkasittelysopim* biitraed* subprocess* alikasittelij*
        kasittelija* processor* auftragsverarbeiter* sous-traitant* verwerker* encargado*
        responsabile*
    """,
    "privacy": """
        gdpr dsgvo rgpd nl:avg rodo tietosuoj* dataskydd* privacy* datenschutz* confidential*
        protection andmekaits* databeskytt* personvern* ochron* privee privacidad* riservat*
        privacidade* integritet* integritets* yksityisyy* privatsph* privatliv*
    """,
    "law": """
        artikla* artikel* article* articulo* articolo* artigo* artikkel* artykul* artikl* art
        asetus* asetuksen forordning* verordnung* reglement* verordening* reglamento*
        regolamento* regulamento* maarus* rozporzadz* regulation* laki lain lakiin lakia
        sv:lag sv:lagen law laws gesetz* loi wet ley legge lei seadus* lov loven ustaw*
        oikeu* rattighet* ratt right rights recht* droit* derecho* diritt* direito* oigus*
        rettighed* rettigh* prawo* prawa*
    """,
    "request": """
        pyyda* pyyta* pyynno* pyynto* pyydet* pyydamme begar* request* bitte ersuch* anfrag*
        antrag* demand* verzoek* solicit* richiest* richied* taotl* palun anmod* prosb*
        prosz* wniosek* please kindly ystavallis* vanligen venligst vennligst
    """,
    "me": """
        fi:minut fi:minua fi:minusta fi:minulle fi:minulla fi:minulta sv:mig sv:mej en:me
        de:mich de:mir fr:moi nl:mij nl:me es:me it:mi pt:me pt:mim et:mind et:mulle
        et:minule et:minust da:mig nb:meg pl:mnie pl:mi
    """,
    "my": """
        fi:minun sv:min sv:mina sv:mitt en:my en:mine de:mein de:meine de:meinen de:meiner
        de:meines de:meinem fr:mes fr:mon fr:ma nl:mijn es:mis es:mi it:miei it:mio it:mia
        it:mie pt:meus pt:meu pt:minha pt:minhas et:minu da:min da:mine da:mit nb:min
        nb:mine nb:mitt pl:moje pl:moich pl:moim pl:moj pl:moja pl:mojego pl:mojej
    """,
    "family": """
        lapse* poika* poikani tytar* tyttare* aiti* isani isan puoliso* mieheni vaimoni en:son
        en:sons dotter* mamma* pappa* mor far barn* child* daughter* mother* father* husband*
        wife* spouse* sohn* tochter* de:kind de:kinder mutter* vater* fils fille* mere pere mari
        femme zoon dochter* moeder* vader* hijo* hija* madre* padre* figli* figlio* figlia*
        filho* filha* mae pai poeg* tutar* ema isa datter* sonn* syn* corka* matka* ojciec*
        estate* kuolinpes* dodsbo* nachlass* succession* deceased* kuoll* avlid* verstorb*
        decede* overled* fallec* defunt* falecid* surn* afdod* avdod* zmarl* valtakirj*
        fullmakt* vollmacht* procurat* volmacht* delega* volikir* fuldmagt*
        pelnomocn* client* asiakkaa* klient* mandant* cliente* paamieh* huvudman*
    """,
}


def _parse() -> tuple[dict[str, dict[str, str]], dict[str, dict[str, str]], int]:
    exact: dict[str, dict[str, str]] = {lang: {} for lang in ("*", *LANGUAGES)}
    prefix: dict[str, dict[str, str]] = {lang: {} for lang in ("*", *LANGUAGES)}
    longest = 0
    for concept, entries in _LEXICON.items():
        for entry in entries.split():
            lang, _, word = entry.rpartition(":") if ":" in entry[:3] else ("*", "", entry)
            if word.endswith("*"):
                stem = word[:-1]
                prefix[lang].setdefault(stem, concept)
                longest = max(longest, len(stem))
            else:
                exact[lang].setdefault(word, concept)
    return exact, prefix, longest


_EXACT, _PREFIX, _LONGEST = _parse()
#: Per-language memo of word -> its concept tokens (``word_concept_tokens``); bounded, since
#: mail brings new words.
_CACHE: dict[str, dict[str, tuple[str, ...]]] = {}
_CACHE_LIMIT = 100_000


def concept_of(word: str, lang: str) -> str | None:
    """The concept a folded word names in language ``lang``, or None."""
    return _lookup(word, lang) or None


def _lookup(word: str, lang: str) -> str:
    local_exact = _EXACT.get(lang, {})
    found = local_exact.get(word) or _EXACT["*"].get(word)
    if found:
        return found
    local_prefix = _PREFIX.get(lang, {})
    global_prefix = _PREFIX["*"]
    for size in range(min(len(word), _LONGEST), 1, -1):
        head = word[:size]
        found = local_prefix.get(head) or global_prefix.get(head)
        if found:
            return found
    return ""


def concept_tokens(folded_words: list[str], lang: str) -> list[str]:
    """The message's concept sequence ("@delete", "@my", "@data"…), repeats collapsed.

    Finnish marks "my" with a suffix (tietoni, osoitteeni), so a Finnish word ending in -ni
    also yields "@my".  Each word's tokens are memoised, so a mail costs a few C-level passes:
    look the words up, chain their tokens, drop consecutive repeats.
    """
    cache = _CACHE.get(lang)
    if cache is None or len(cache) > _CACHE_LIMIT:
        cache = _CACHE[lang] = {}
    try:
        per_word = list(map(cache.__getitem__, folded_words))
    except KeyError:
        for word in folded_words:
            if word not in cache:
                cache[word] = word_concept_tokens(word, lang)
        per_word = list(map(cache.__getitem__, folded_words))
    return collapse(chain.from_iterable(per_word))


def collapse(tokens: Iterable[str]) -> list[str]:
    """The concept sequence from the words' concept tokens in order: repeats dropped."""
    return [token for token, _repeats in groupby(tokens)]


def word_concept_tokens(word: str, lang: str) -> tuple[str, ...]:
    """The concept tokens one word adds, before repeats are collapsed: its concept, then
    "@my" for a Finnish -ni word.  (Each token was appended only if it differed from the last
    one appended, which is exactly dropping consecutive repeats from the chained tuples.)"""
    concept = _lookup(word, lang)
    tokens: tuple[str, ...] = ("@" + concept,) if concept else ()
    if lang == "fi" and len(word) > 5 and word.endswith("ni"):
        tokens += ("@my",)
    return tokens
